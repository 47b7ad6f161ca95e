import type { RegionRule } from '../auth/index.js';
import type { SignatureSettings } from './auth-deps.js';

/** The gateway's rules for signatures, as authenticate and verifyPostSignature take them. */
export function signatureRules(services: SignatureSettings): { regions: RegionRule; signatureV2: boolean } {
  return { regions: { region: services.region, accepted: services.auth.acceptedRegions }, signatureV2: services.auth.signatureV2 };
}
