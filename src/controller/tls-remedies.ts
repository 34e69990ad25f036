import type { TlsRemedies } from '../transports/index.js';

// The controller's user has no flags to pass: a registry is trusted through the object's own fields (certSecretRef,
// caConfigMapRef, as Flux names them) and marked insecure in the controller's registries.conf (the chart's
// registriesConf value), so its TLS hints name those instead of the CLI's flags.

const INSECURE = 'mark it insecure = true in the controller\'s registries.conf (the chart\'s registriesConf value)';

export const CONTROLLER_TLS_REMEDIES: TlsRemedies = {
  plainHttp: INSECURE,
  insecure: INSECURE,
  trustCa: (_host, certDir) => certDir !== undefined
    ? 'no CA in the object\'s spec.certSecretRef (ca.crt) or spec.caConfigMapRef signed it: add the registry\'s CA there'
    : 'trust its CA with the object\'s spec.certSecretRef (ca.crt) or spec.caConfigMapRef',
  clientCert: () => 'give tls.crt and tls.key in the Secret named by the object\'s spec.certSecretRef',
};
