import { readFileSync } from 'node:fs';
import { goArch, goOS, hostVariant } from '../oci/platform-match.js';
import type { PlatformChoice, WantedOptions } from '../oci/platform-match.js';

// The platform this process runs on, in Go's spelling, with the ARM variant read from /proc/cpuinfo the way
// containers/image detects it. I/O lives here, not in the pure oci model.

export function hostPlatform(): { choice: PlatformChoice; opts: WantedOptions } {
  const os = goOS(process.platform);
  const architecture = goArch(process.arch);
  let cpuinfo: string | undefined;
  if (architecture === 'arm' || architecture === 'arm64') {
    try {
      cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
    } catch {
      cpuinfo = undefined;
    }
  }
  return { choice: { os, architecture }, opts: { autoVariant: hostVariant(os, architecture, cpuinfo) } };
}

/** An explicit choice (--override-os/arch/variant) replaces the host's; no auto-detection then, as in containers/image. */
export function platformChoice(o: { os?: string; arch?: string; variant?: string }): { choice: PlatformChoice; opts: WantedOptions } {
  const host = hostPlatform();
  if (!o.os && !o.arch && !o.variant) return host;
  const choice: PlatformChoice = { os: o.os ?? host.choice.os, architecture: o.arch ?? host.choice.architecture };
  if (o.variant) choice.variant = o.variant;
  return { choice, opts: o.arch ? {} : host.opts };
}
