import type { BucketRecord, ObjectEncryption, UploadInfo } from '../../../rpc/index.js';
import { parseReadSse, parseWriteSse, type KeyTransport, type ObjectSealer, type SseRequest } from '../../encryption/index.js';
import type { EncryptionDeps } from '../../data-path/index.js';
import { header, type RequestContext } from '../../http/index.js';

/** Whether this request may carry an SSE-C key: always over HTTPS, over HTTP only when the operator allows it. */
export function keyTransport(ctx: RequestContext<EncryptionDeps>): KeyTransport {
  return { secure: ctx.request.protocol === 'https', allowInsecure: ctx.services.sseCustomerKeysOverHttp };
}

/** The encryption a write's own SSE headers ask for (no bucket default, no KMS key looked up). */
export function requestedSseOf(ctx: RequestContext<EncryptionDeps>): SseRequest {
  return parseWriteSse((name) => header(ctx, name), keyTransport(ctx));
}

/**
 * The encryption a write asks for: its own SSE headers, else the bucket's default encryption (SSE-S3 or
 * SSE-KMS), with any KMS key resolved (S3's KMS errors for a missing or disabled one). Checked before
 * any body is read.
 */
export async function writeSseOf(ctx: RequestContext<EncryptionDeps>, bucket: Pick<BucketRecord, 'encryption' | 'kmsKeyName' | 'bucketKeyEnabled'>): Promise<SseRequest> {
  let request = requestedSseOf(ctx);
  if (request.kind === 'none' && bucket.encryption === 'AES256') request = { kind: 'SSE-S3' };
  if (request.kind === 'none' && bucket.encryption === 'aws:kms') request = { kind: 'SSE-KMS', keyId: bucket.kmsKeyName, bucketKey: bucket.bucketKeyEnabled };
  return ctx.services.kms.resolve(request);
}

/** The SSE-C key a read (or a part upload) carries, or none; `prefix` selects a copy source's headers. */
export function readSseOf(ctx: RequestContext<EncryptionDeps>, prefix?: string): SseRequest {
  return parseReadSse((name) => header(ctx, name), keyTransport(ctx), prefix);
}

/**
 * Tells the client how the version it wrote or reads is encrypted, as S3 does on every response;
 * `written`: this answers the write that stored it (an SSE-KMS encryption context is echoed then only).
 */
export function setSseHeaders(ctx: RequestContext<{ sealer: ObjectSealer }>, field: ObjectEncryption | undefined, request: SseRequest, written = false): void {
  for (const [name, value] of Object.entries(ctx.services.sealer.responseHeaders(field, request, written))) ctx.reply.header(name, value);
}

/**
 * Whether an answer about a multipart upload (ListParts, CompleteMultipartUpload) may show its parts'
 * and its object's checksums. Those are checksums of the plaintext, so for an SSE-C upload they would
 * confirm a guess of the body: S3 asks for the customer key when the upload named a checksum algorithm
 * (throwing its error here when the key is missing or wrong), and shows them only with the key. `sse`:
 * the request's key, when the caller has read it already.
 */
export function mayShowUploadChecksums(ctx: RequestContext<EncryptionDeps>, encryption: ObjectEncryption | undefined, upload: UploadInfo | undefined, sse = readSseOf(ctx)): boolean {
  if (encryption?.kind !== 'SSE-C') return true;
  if (sse.kind !== 'none' || upload?.checksumAlgorithm !== undefined) ctx.services.sealer.checkAccess(encryption, sse);
  return sse.kind === 'SSE-C';
}
