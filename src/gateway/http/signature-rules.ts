import type { RegionRule } from '../auth/index.js';
import type { GatewayServices } from '../data-path/index.js';

/** The gateway's rules for signatures, as authenticate and verifyPostSignature take them. */
export function signatureRules(services: Pick<GatewayServices, 'region' | 'auth'>): { regions: RegionRule; signatureV2: boolean } {
  return { regions: { region: services.region, accepted: services.auth.acceptedRegions }, signatureV2: services.auth.signatureV2 };
}
