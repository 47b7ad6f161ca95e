import { formatAmzDate, MAX_PRESIGNED_EXPIRES_SECONDS } from './auth-params.js';
import { canonicalQuery, canonicalRequest, uriEncode } from './canonical-request.js';
import { deriveSigningKey, hmacHex, requestStringToSign, SIGV4_ALGORITHM } from './signing.js';

/** What a presigned GET names and who signs it. */
export interface PresignRequest {
  /** `http` or `https`, and the Host the URL is for (the signature covers it). */
  protocol: string;
  host: string;
  bucket: string;
  key: string;
  versionId?: string | undefined;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
  /** 1 to 604,800 (seven days, as S3). */
  expiresSeconds: number;
  nowMs: number;
}

/**
 * A path-style, query-signed SigV4 GET URL for one object, as an SDK's presigner makes it (host the
 * only signed header, UNSIGNED-PAYLOAD): the same form `authenticate` verifies when it is used.
 */
export function presignUrl(request: PresignRequest): string {
  const { expiresSeconds } = request;
  if (!Number.isInteger(expiresSeconds) || expiresSeconds < 1 || expiresSeconds > MAX_PRESIGNED_EXPIRES_SECONDS) {
    throw new RangeError(`expiresSeconds must be 1 to ${MAX_PRESIGNED_EXPIRES_SECONDS}`);
  }
  const amzDate = formatAmzDate(request.nowMs);
  const date = amzDate.slice(0, 8);
  const scope = `${date}/${request.region}/s3/aws4_request`;
  const path = `/${uriEncode(Buffer.from(request.bucket, 'utf8'), false)}/${uriEncode(Buffer.from(request.key, 'utf8'), true)}`;
  // Byte strings in latin1, as decodeQuery gives them to the verifier.
  const pairs: [string, string][] = [
    ['X-Amz-Algorithm', SIGV4_ALGORITHM],
    ['X-Amz-Credential', Buffer.from(`${request.accessKeyId}/${scope}`, 'utf8').toString('latin1')],
    ['X-Amz-Date', amzDate],
    ['X-Amz-Expires', String(expiresSeconds)],
    ['X-Amz-SignedHeaders', 'host'],
  ];
  if (request.versionId !== undefined) pairs.push(['versionId', Buffer.from(request.versionId, 'utf8').toString('latin1')]);
  const query = canonicalQuery(pairs);
  const canonical = canonicalRequest({ method: 'GET', path, query, headers: `host:${request.host}\n`, signedHeaders: ['host'], payloadHash: 'UNSIGNED-PAYLOAD' });
  const signature = hmacHex(deriveSigningKey(request.secretAccessKey, date, request.region, 's3'), requestStringToSign(amzDate, scope, canonical));
  return `${request.protocol}://${request.host}${path}?${query}&X-Amz-Signature=${signature}`;
}
