import { createHash } from 'node:crypto';
import { S3Error } from '../s3/index.js';
import { DATA_KEY_BYTES } from './package-format.js';

/** What a request asks of server-side encryption: nothing, SSE-S3 (store-managed keys) or SSE-C (the customer's key). */
export type SseRequest =
  | { kind: 'none' }
  | { kind: 'SSE-S3' }
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

/** The value of `x-amz-server-side-encryption` as a request for SSE-S3; `aws:kms` is refused (no KMS is configured). */
export function parseSseS3(value: string | undefined): SseRequest {
  if (value === undefined) return NO_KEY;
  if (value === 'AES256') return { kind: 'SSE-S3' };
  if (value === 'aws:kms' || value === 'aws:kms:dsse') {
    throw new S3Error('NotImplemented', { message: 'Server-side encryption with KMS keys is not available: no KMS is configured. Use AES256.' });
  }
  throw invalid(SSE_HEADER, value, 'The encryption method specified is not supported');
}

/** KMS's own request headers, which S3 takes only with `x-amz-server-side-encryption: aws:kms`. */
const KMS_HEADERS = ['x-amz-server-side-encryption-aws-kms-key-id', 'x-amz-server-side-encryption-context'] as const;

/** What a write (PutObject, CopyObject's target, CreateMultipartUpload) asks: SSE-S3 or SSE-C, never both. */
export function parseWriteSse(get: HeaderReader, transport: KeyTransport): SseRequest {
  // A KMS key id sent without aws:kms would otherwise store the body unencrypted (or under SSE-S3)
  // while the client believes it asked for KMS.
  const kmsHeader = KMS_HEADERS.find((name) => get(name) !== undefined);
  if (kmsHeader !== undefined && get(SSE_HEADER) !== 'aws:kms' && get(SSE_HEADER) !== 'aws:kms:dsse') {
    throw invalid(kmsHeader, get(kmsHeader), 'Server Side Encryption with AWS KMS managed key requires HTTP header x-amz-server-side-encryption : aws:kms');
  }
  const sse = parseSseS3(get(SSE_HEADER));
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
