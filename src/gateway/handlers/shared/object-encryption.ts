import type { ObjectEncryption, UploadInfo } from '../../../rpc/index.js';
import { parseReadSse, parseWriteSse, sseResponseHeaders, type KeyTransport, type SseRequest } from '../../encryption/index.js';
import type { EncryptionDeps } from '../../data-path/index.js';
import { header, type RequestContext } from '../../http/index.js';

/** Whether this request may carry an SSE-C key: always over HTTPS, over HTTP only when the operator allows it. */
export function keyTransport(ctx: RequestContext<EncryptionDeps>): KeyTransport {
  return { secure: ctx.request.protocol === 'https', allowInsecure: ctx.services.sseCustomerKeysOverHttp };
}

/**
 * The encryption a write asks for: its own SSE headers, else the bucket's default encryption (SSE-S3 when
 * the bucket has one). Checked before any body is read.
 */
export function writeSseOf(ctx: RequestContext<EncryptionDeps>, bucketDefault?: 'AES256' | undefined): SseRequest {
  const request = parseWriteSse((name) => header(ctx, name), keyTransport(ctx));
  if (request.kind === 'none' && bucketDefault === 'AES256') return { kind: 'SSE-S3' };
  return request;
}

/** The SSE-C key a read (or a part upload) carries, or none; `prefix` selects a copy source's headers. */
export function readSseOf(ctx: RequestContext<EncryptionDeps>, prefix?: string): SseRequest {
  return parseReadSse((name) => header(ctx, name), keyTransport(ctx), prefix);
}

/** Tells the client how the version it wrote or reads is encrypted, as S3 does on every response. */
export function setSseHeaders(ctx: RequestContext<unknown>, field: ObjectEncryption | undefined, request: SseRequest): void {
  for (const [name, value] of Object.entries(sseResponseHeaders(field, request))) ctx.reply.header(name, value);
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
