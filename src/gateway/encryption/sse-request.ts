import { createHash } from 'node:crypto';
import { S3Error } from '../s3/index.js';
import { parseEncryptionContext } from './kms-keys.js';
import { DATA_KEY_BYTES } from './package-format.js';

/**
 * A request for SSE-KMS: `keyId` as the request (or the bucket's default) gave it, `keyName` once
 * resolved to a known, enabled key; the encryption context (canonical JSON) and BucketKeyEnabled.
 */
export interface KmsRequest {
  kind: 'SSE-KMS';
  keyId?: string | undefined;
  keyName?: string | undefined;
  context?: string | undefined;
  bucketKey?: boolean | undefined;
}

/** What a request asks of server-side encryption: nothing, SSE-S3 (store-managed keys), SSE-KMS (a named key of the cluster's) or SSE-C (the customer's key). */
export type SseRequest =
  | { kind: 'none' }
  | { kind: 'SSE-S3' }
  | KmsRequest
  | { kind: 'SSE-C'; customerKey: Buffer; keyMd5Base64: string };

/** Header prefixes of the SSE-C key of the object addressed, and of a copy's source. */
export const SSE_C_PREFIX = 'x-amz-server-side-encryption-customer-';
export const COPY_SOURCE_SSE_C_PREFIX = 'x-amz-copy-source-server-side-encryption-customer-';
/** The SSE-S3 (or KMS) request header. */
export const SSE_HEADER = 'x-amz-server-side-encryption';

/** Reads one request header (lower-case name). */
export type HeaderReader = (name: string) => string | undefined;

/** Whether SSE-C keys may arrive over this connection. */
export interface KeyTransport {
  secure: boolean;
  /** The operator allows customer keys over plain HTTP (local use). */
  allowInsecure: boolean;
}

const NO_KEY = { kind: 'none' } as const;

function invalid(name: string, value: string | undefined, message: string): S3Error {
  return new S3Error('InvalidArgument', { message, fields: { ArgumentName: name, ArgumentValue: value ?? 'null' } });
}

/**
 * The SSE-C key of a request's headers under `prefix` (the object's or a copy source's), checked as S3
 * checks it: algorithm AES256, a base64 256-bit key, and the base64 MD5 of that key; refused over plain
 * HTTP unless allowed. No header at all means no key.
 */
export function parseCustomerKey(get: HeaderReader, prefix: string, transport: KeyTransport): SseRequest {
  const algorithm = get(`${prefix}algorithm`);
  const key = get(`${prefix}key`);
  const keyMd5 = get(`${prefix}key-md5`);
  if (algorithm === undefined && key === undefined && keyMd5 === undefined) return NO_KEY;
  if (!transport.secure && !transport.allowInsecure) {
    throw new S3Error('InvalidRequest', { message: 'Requests specifying Server Side Encryption with Customer provided keys must be made over a secure connection.' });
  }
  if (algorithm === undefined) {
    throw invalid(`${prefix}algorithm`, algorithm, 'Requests specifying Server Side Encryption with Customer provided keys must provide a valid encryption algorithm.');
  }
  if (algorithm !== 'AES256') {
    throw new S3Error('InvalidEncryptionAlgorithmError', { message: 'The encryption request you specified is not valid. Supported value: AES256.', fields: { ArgumentName: `${prefix}algorithm`, ArgumentValue: algorithm } });
  }
  if (key === undefined) {
    throw invalid(`${prefix}key`, key, 'Requests specifying Server Side Encryption with Customer provided keys must provide an appropriate secret key.');
  }
  const keyBytes = /^[A-Za-z0-9+/]+={0,2}$/.test(key) ? Buffer.from(key, 'base64') : Buffer.alloc(0);
  if (keyBytes.length !== DATA_KEY_BYTES) {
    throw invalid(`${prefix}key`, undefined, 'The secret key was invalid for the specified algorithm.');
  }
  if (keyMd5 === undefined) {
    throw invalid(`${prefix}key-MD5`, keyMd5, 'Requests specifying Server Side Encryption with Customer provided keys must provide the client calculated MD5 of the secret key.');
  }
  if (createHash('md5').update(keyBytes).digest('base64') !== keyMd5) {
    throw invalid(`${prefix}key-MD5`, undefined, 'The calculated MD5 hash of the key did not match the hash that was provided.');
  }
  return { kind: 'SSE-C', customerKey: keyBytes, keyMd5Base64: keyMd5 };
}

/** The SSE-KMS key id header. */
export const KMS_KEY_ID_HEADER = 'x-amz-server-side-encryption-aws-kms-key-id';
/** The SSE-KMS encryption context header. */
export const KMS_CONTEXT_HEADER = 'x-amz-server-side-encryption-context';
/** The Bucket Key header of a write and of its answer. */
export const BUCKET_KEY_HEADER = 'x-amz-server-side-encryption-bucket-key-enabled';
/** Longest key id taken: a name is 64 characters, an ARN some more. */
const MAX_KEY_ID_CHARS = 2048;

/** The value of `x-amz-server-side-encryption`: SSE-S3 (AES256) or SSE-KMS (aws:kms, its key id and context from `get`). DSSE-KMS is refused. */
export function parseSseS3(value: string | undefined, get: HeaderReader = () => undefined): SseRequest {
  if (value === undefined) return NO_KEY;
  if (value === 'AES256') return { kind: 'SSE-S3' };
  if (value === 'aws:kms') {
    const keyId = get(KMS_KEY_ID_HEADER);
    if (keyId !== undefined && (keyId === '' || keyId.length > MAX_KEY_ID_CHARS)) throw invalid(KMS_KEY_ID_HEADER, keyId.slice(0, 256), 'The KMS key id is not valid.');
    const context = get(KMS_CONTEXT_HEADER);
    return { kind: 'SSE-KMS', keyId, context: context === undefined ? undefined : parseEncryptionContext(context), bucketKey: parseBucketKey(get(BUCKET_KEY_HEADER)) };
  }
  if (value === 'aws:kms:dsse') {
    throw new S3Error('NotImplemented', { message: 'Dual-layer server-side encryption with KMS keys (aws:kms:dsse) is not available. Use aws:kms or AES256.' });
  }
  throw invalid(SSE_HEADER, value, 'The encryption method specified is not supported');
}

function parseBucketKey(value: string | undefined): boolean | undefined {
  if (value === undefined) return undefined;
  const lower = value.trim().toLowerCase();
  if (lower === 'true' || lower === 'false') return lower === 'true';
  throw invalid(BUCKET_KEY_HEADER, value.slice(0, 64), 'The header x-amz-server-side-encryption-bucket-key-enabled must be true or false.');
}

/** KMS's own request headers, which S3 takes only with `x-amz-server-side-encryption: aws:kms`. */
const KMS_HEADERS = [KMS_KEY_ID_HEADER, KMS_CONTEXT_HEADER] as const;

/** What a write (PutObject, CopyObject's target, CreateMultipartUpload) asks: SSE-S3 or SSE-C, never both. */
export function parseWriteSse(get: HeaderReader, transport: KeyTransport): SseRequest {
  // A KMS key id sent without aws:kms would otherwise store the body unencrypted (or under SSE-S3)
  // while the client believes it asked for KMS.
  const kmsHeader = KMS_HEADERS.find((name) => get(name) !== undefined);
  if (kmsHeader !== undefined && get(SSE_HEADER) !== 'aws:kms' && get(SSE_HEADER) !== 'aws:kms:dsse') {
    throw invalid(kmsHeader, get(kmsHeader), 'Server Side Encryption with AWS KMS managed key requires HTTP header x-amz-server-side-encryption : aws:kms');
  }
  const sse = parseSseS3(get(SSE_HEADER), get);
  const customer = parseCustomerKey(get, SSE_C_PREFIX, transport);
  if (sse.kind !== 'none' && customer.kind !== 'none') {
    throw invalid(SSE_HEADER, get(SSE_HEADER), 'Server Side Encryption with Customer provided key is incompatible with the encryption method specified');
  }
  return customer.kind !== 'none' ? customer : sse;
}

/** What a read (GetObject, HeadObject) or a part upload carries: only an SSE-C key; `x-amz-server-side-encryption` is refused, as S3 refuses it. */
export function parseReadSse(get: HeaderReader, transport: KeyTransport, prefix = SSE_C_PREFIX): SseRequest {
  const value = get(SSE_HEADER);
  if (value !== undefined && prefix === SSE_C_PREFIX) {
    throw invalid(SSE_HEADER, value, 'x-amz-server-side-encryption header is not supported for this operation.');
  }
  return parseCustomerKey(get, prefix, transport);
}
