import { S3Error } from '../s3/index.js';

/**
 * The regions a gateway takes SigV4 credential scopes for. The region is part of the signing key, so
 * checking it confines a signature to the region it was made for: with the same keys on gateways of
 * several regions, a request or a 7-day presigned URL made for one does not open another. By default
 * (`auth.acceptedRegions: ["*"]`) any region is taken, as MinIO does with no region set: clients
 * pointed at a store by endpoint sign for whatever region their profile names (aws-cli with a user's
 * AWS_DEFAULT_REGION, rclone's `auto`), and the region adds no secret. An operator confines signatures
 * to `region` (plus any listed) by setting the list, and the refusal then names the expected region.
 */
export interface RegionRule {
  /** The gateway's region: the one a refusal tells the client to sign for. */
  region: string;
  /** Further regions accepted; `*` accepts every region. */
  accepted: readonly string[];
}

/** How a signature reached the gateway: its refusal is worded as S3 words it for that mechanism. */
export type SignatureMechanism = 'header' | 'presigned' | 'form';

/**
 * Throws S3's refusal unless a scope naming `scopeRegion` is accepted (any is, without a rule). Each
 * refusal names the expected region in `<Region>` and `x-amz-bucket-region` (botocore re-signs for
 * it; a HEAD answer has no body): header 400 AuthorizationHeaderMalformed, presigned URL 400
 * AuthorizationQueryParametersError, POST form 400 InvalidArgument on X-Amz-Credential.
 */
export function checkScopeRegion(rule: RegionRule | undefined, scopeRegion: string, mechanism: SignatureMechanism, credential: string): void {
  if (rule === undefined || scopeRegion === rule.region || rule.accepted.includes(scopeRegion) || rule.accepted.includes('*')) return;
  const wrong = `the region '${scopeRegion}' is wrong; expecting '${rule.region}'`;
  const details = { fields: { Region: rule.region }, headers: { 'x-amz-bucket-region': rule.region } };
  if (mechanism === 'header') throw new S3Error('AuthorizationHeaderMalformed', { ...details, message: `The authorization header is malformed; ${wrong}` });
  if (mechanism === 'presigned') throw new S3Error('AuthorizationQueryParametersError', { ...details, message: `Error parsing the X-Amz-Credential parameter; ${wrong}` });
  throw new S3Error('InvalidArgument', { ...details, message: wrong, fields: { ArgumentName: 'X-Amz-Credential', ArgumentValue: credential, Region: rule.region } });
}
