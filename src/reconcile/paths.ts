/** The transport-qualified name of a destination tag. */
export function destinationRef(image: string, tag: string): string {
  if (image.startsWith('oci:')) return `${image}:${tag}`;
  return `${image.startsWith('docker://') ? '' : 'docker://'}${image}:${tag}`;
}
