import { createHmac } from 'node:crypto';
import { S3Error } from '../s3/index.js';
import { MAX_PRESIGNED_EXPIRES_SECONDS, parseAmzDate } from './auth-params.js';
import { ChunkSigner, signaturesEqual } from './signing.js';
import type { AuthRequest, AuthResult, CredentialStore } from './types.js';

/**
 * Query-string authentication of Signature Version 2 (`AWSAccessKeyId`, `Expires`, `Signature`).
 *
 * boto3 and aws-cli v1 still produce these URLs by default for a custom endpoint
 * (`generate_presigned_url`, `aws s3 presign`), so users hand them around even though every
 * other request they send is SigV4. Header-signed V2 (`Authorization: AWS ...`) is verified below too.
 * String to sign: verb, Content-MD5, Content-Type, Expires, canonical x-amz-* headers, and the
 * canonical resource (path as sent plus the sub-resources S3 lists, sorted, values decoded).
 * `Expires` is an absolute time, bounded as SigV4's X-Amz-Expires is: at most seven days ahead.
 * `auth.signatureV2: off` refuses all of it (refuseV2).
 */
// The list botocore's HmacV1Auth signs, which S3 computes alike (object-lock was added to botocore
// after S3 refused GetObjectLockConfiguration without it); a name missing here fails the signature.
const SUBRESOURCES = new Set([
  'accelerate', 'acl', 'analytics', 'cors', 'defaultObjectAcl', 'delete', 'inventory', 'lifecycle', 'location',
  'logging', 'metrics', 'notification', 'object-lock', 'partNumber', 'policy', 'replication', 'requestPayment',
  'response-cache-control', 'response-content-disposition', 'response-content-encoding', 'response-content-language',
  'response-content-type', 'response-expires', 'restore', 'select', 'select-type', 'storageClass', 'tagging',
  'torrent', 'uploadId', 'uploads', 'versionId', 'versioning', 'versions', 'website',
]);

type Headers = AuthRequest['headers'];

/** S3's answer to SigV2 (header, presigned or POST form) where only SigV4 is spoken (`signatureV2` false). */
export function refuseV2(signatureV2: boolean | undefined): void {
  if (signatureV2 === false) {
    throw new S3Error('InvalidRequest', { message: 'The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.' });
  }
}

function header(headers: Headers, name: string): string {
  const value = headers[name];
  return (Array.isArray(value) ? value.join(',') : value ?? '').trim();
}

/**
 * The path SigV2 signs: as sent for path style; for a virtual-hosted-style request the Host's bucket
 * comes first (`/bucket/key`, `/bucket/` for the bucket itself), as S3 computes it.
 */
function signedPath(req: AuthRequest): string {
  return req.hostBucket === undefined ? req.rawPath : `/${req.hostBucket}${req.rawPath === '' ? '/' : req.rawPath}`;
}

/** The canonical resource of SigV2: the raw path plus sorted sub-resources. */
export function canonicalResourceV2(rawPath: string, query: readonly (readonly [string, string])[], rawQueryPairs: readonly string[]): string {
  const present = rawQueryPairs
    .map((pair) => {
      const eq = pair.indexOf('=');
      return eq < 0 ? { name: pair, raw: undefined } : { name: pair.slice(0, eq), raw: pair.slice(eq + 1) };
    })
    .filter((entry) => SUBRESOURCES.has(entry.name));
  if (present.length === 0) return rawPath;
  const decoded = new Map(query);
  present.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return `${rawPath}?${present.map((e) => (e.raw === undefined ? e.name : `${e.name}=${decoded.get(e.name) ?? ''}`)).join('&')}`;
}

function canonicalAmzHeaders(headers: Headers): string {
  return Object.keys(headers)
    .filter((name) => name.startsWith('x-amz-') && headers[name] !== undefined)
    .sort()
    .map((name) => `${name}:${header(headers, name)}\n`)
    .join('');
}

/** Verifies a SigV2 presigned request; throws the S3 error S3 answers. */
export function presignedV2Auth(
  req: AuthRequest,
  query: readonly (readonly [string, string])[],
  credentials: CredentialStore,
  nowMs: number,
): AuthResult {
  const params = new Map(query);
  const accessKeyId = params.get('AWSAccessKeyId') ?? '';
  const signature = params.get('Signature') ?? '';
  const expires = params.get('Expires') ?? '';
  if (!/^\d+$/.test(expires)) {
    throw new S3Error('AccessDenied', { message: 'Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters' });
  }
  const expiresSeconds = Number(expires);
  if (expiresSeconds * 1000 < nowMs) {
    throw new S3Error('AccessDenied', { message: 'Request has expired', fields: { Expires: new Date(expiresSeconds * 1000).toISOString() } });
  }
  // S3 itself honours V2 URLs made to last years; here a V2 URL lives no longer than a V4 one may, so
  // a leaked link cannot outlast the week a V4 presigner is held to.
  if (expiresSeconds * 1000 > nowMs + MAX_PRESIGNED_EXPIRES_SECONDS * 1000) {
    throw new S3Error('AccessDenied', {
      message: `Expires must be at most ${MAX_PRESIGNED_EXPIRES_SECONDS} seconds (seven days) ahead`,
      fields: { Expires: expires, ServerTime: new Date(nowMs).toISOString() },
    });
  }
  const secretKey = credentials.secretKeyFor(accessKeyId);
  if (secretKey === undefined) throw new S3Error('InvalidAccessKeyId', { fields: { AWSAccessKeyId: accessKeyId } });
  const rawPairs = req.rawQuery === '' ? [] : req.rawQuery.split('&');
  const stringToSign = [
    req.method.toUpperCase(),
    header(req.headers, 'content-md5'),
    header(req.headers, 'content-type'),
    expires,
    `${canonicalAmzHeaders(req.headers)}${canonicalResourceV2(signedPath(req), query, rawPairs)}`,
  ].join('\n');
  const expected = createHmac('sha1', secretKey).update(stringToSign, 'utf8').digest('base64');
  if (!signaturesEqual(signature, expected)) {
    throw new S3Error('SignatureDoesNotMatch', {
      fields: { AWSAccessKeyId: accessKeyId, StringToSign: stringToSign, SignatureProvided: signature },
    });
  }
  return {
    accessKeyId,
    anonymous: false,
    presigned: true,
    payloadMode: 'unsigned',
    decodedContentLength: undefined,
    payloadSha256: undefined,
    region: 'us-east-1',
    signedHeaders: [],
    signature: expected,
    // No chunk chain exists in V2; the unsigned payload mode never asks this signer for anything.
    chunkSigner: new ChunkSigner(Buffer.alloc(32), '', ''),
  };
}

/** Longest clock difference S3 accepts for a SigV2 header-signed request. */
const MAX_V2_SKEW_MS = 15 * 60 * 1000;

/**
 * Verifies `Authorization: AWS key:signature` (Signature Version 2 in headers), as S3 did: Date or
 * x-amz-date required and within 15 minutes of the server clock; the string to sign covers the verb,
 * Content-MD5, Content-Type, the date (empty when x-amz-date carries it), every x-amz-* header and the
 * resource with its sub-resources. The body is not signed (Content-MD5, when sent, is checked).
 */
export function headerV2Auth(req: AuthRequest, authorization: string, query: readonly (readonly [string, string])[], credentials: CredentialStore, nowMs: number): AuthResult {
  const match = /^AWS ([^:\s]+):(\S+)$/.exec(authorization.trim());
  if (match === null) throw new S3Error('InvalidArgument', { message: 'AWS authorization header is invalid.  Expected AwsAccessKeyId:signature', fields: { ArgumentName: 'Authorization', ArgumentValue: authorization } });
  const accessKeyId = match[1] as string;
  const signature = match[2] as string;
  const amzDate = header(req.headers, 'x-amz-date');
  const date = header(req.headers, 'date');
  const dateMs = amzDate !== '' ? (parseAmzDate(amzDate) ?? Date.parse(amzDate)) : Date.parse(date);
  // A date before the epoch is no valid date, as S3 answers it (not RequestTimeTooSkewed).
  if ((amzDate === '' && date === '') || Number.isNaN(dateMs) || dateMs < 0) {
    throw new S3Error('AccessDenied', { message: 'AWS authentication requires a valid Date or x-amz-date header' });
  }
  if (Math.abs(nowMs - dateMs) > MAX_V2_SKEW_MS) {
    throw new S3Error('RequestTimeTooSkewed', {
      fields: { RequestTime: amzDate !== '' ? amzDate : date, ServerTime: new Date(nowMs).toISOString(), MaxAllowedSkewMilliseconds: String(MAX_V2_SKEW_MS) },
    });
  }
  const secretKey = credentials.secretKeyFor(accessKeyId);
  if (secretKey === undefined) throw new S3Error('InvalidAccessKeyId', { fields: { AWSAccessKeyId: accessKeyId } });
  const rawPairs = req.rawQuery === '' ? [] : req.rawQuery.split('&');
  // S3's canonical resource of a bucket is `/bucket/`, whichever form the path was sent in.
  const sent = signedPath(req);
  const path = /^\/[^/]+$/.test(sent) ? `${sent}/` : sent;
  const stringToSign = [
    req.method.toUpperCase(),
    header(req.headers, 'content-md5'),
    header(req.headers, 'content-type'),
    amzDate !== '' ? '' : date,
    `${canonicalAmzHeaders(req.headers)}${canonicalResourceV2(path, query, rawPairs)}`,
  ].join('\n');
  const expected = createHmac('sha1', secretKey).update(stringToSign, 'utf8').digest('base64');
  if (!signaturesEqual(signature, expected)) {
    throw new S3Error('SignatureDoesNotMatch', { fields: { AWSAccessKeyId: accessKeyId, StringToSign: stringToSign, SignatureProvided: signature } });
  }
  return {
    accessKeyId,
    anonymous: false,
    presigned: false,
    payloadMode: 'unsigned',
    decodedContentLength: undefined,
    payloadSha256: undefined,
    region: 'us-east-1',
    signedHeaders: [],
    signature: expected,
    // No chunk chain exists in V2; the unsigned payload mode never asks this signer for anything.
    chunkSigner: new ChunkSigner(Buffer.alloc(32), '', ''),
  };
}
