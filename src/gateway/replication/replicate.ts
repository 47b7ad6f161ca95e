import { uriEncode } from '../auth/index.js';
import { formatRetainUntil } from '../s3/index.js';
import { RemoteError } from './remote-error.js';
import type { RemoteS3, RemoteWrite, StreamedBody } from './remote-s3.js';
import type { SourceVersion } from './source-version.js';

/** The stored response headers a replica keeps, besides x-amz-meta-*. */
const COPIED_HEADERS: ReadonlySet<string> = new Set(['content-type', 'cache-control', 'content-disposition', 'content-encoding', 'content-language', 'expires']);
/** How long the clean-up of a failed multipart copy may take, whatever became of the copy's own signal. */
const ABORT_UPLOAD_TIMEOUT_MS = 10_000;

/** What a replicated version became at the destination. */
export interface ReplicaWrite extends RemoteWrite {
  /** How it was sent. */
  kind: 'put' | 'multipart' | 'delete-marker';
}

/** The headers that mark a write as a replica of `version` (honoured by a Tessera destination, ignored by other stores). */
export function replicaMarkHeaders(version: Pick<SourceVersion, 'versionId'>): Record<string, string> {
  return { 'x-tessera-replica': 'true', 'x-tessera-replica-version-id': version.versionId };
}

/** A tag set as x-amz-tagging carries it: URL-encoded `key=value` pairs joined by `&`. */
export function taggingHeader(tags: Readonly<Record<string, string>>): string {
  const encode = (text: string): string => uriEncode(Buffer.from(text, 'utf8'), false);
  return Object.entries(tags)
    .map(([key, value]) => `${encode(key)}=${encode(value)}`)
    .join('&');
}

/**
 * The request headers of a copy of `version`: its stored headers and user metadata, its tags, its
 * Object Lock settings, SSE-S3 (the destination encrypts with its own keys), and the replica marks.
 * A retention already past is left out: a store refuses a retain-until date in the past, and the
 * retention protects nothing any more.
 */
export function replicaHeaders(version: SourceVersion, nowMs: number): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [rawName, value] of Object.entries(version.headers)) {
    const name = rawName.toLowerCase();
    if (COPIED_HEADERS.has(name) || name.startsWith('x-amz-meta-')) headers[name] = value;
  }
  if (Object.keys(version.tags).length > 0) headers['x-amz-tagging'] = taggingHeader(version.tags);
  if (version.retention !== undefined && version.retention.retainUntilMs > nowMs) {
    headers['x-amz-object-lock-mode'] = version.retention.mode;
    headers['x-amz-object-lock-retain-until-date'] = formatRetainUntil(version.retention.retainUntilMs);
  }
  if (version.legalHold === true) headers['x-amz-object-lock-legal-hold'] = 'ON';
  if (version.encryption === 'SSE-S3') headers['x-amz-server-side-encryption'] = 'AES256';
  return { ...headers, ...replicaMarkHeaders(version) };
}

/** A permanent failure: the version cannot be copied as it is, however often it is tried. */
function unreplicable(code: string, message: string): RemoteError {
  return new RemoteError({ status: 0, code, message, retryable: false });
}

/** Part `index` of `version` as a body of `sizeBytes`; a source that cannot open it is worth another try later. */
async function partBody(version: SourceVersion, index: number, sizeBytes: number, signal: AbortSignal): Promise<StreamedBody> {
  try {
    return { chunks: await version.openPart(index, signal), sizeBytes };
  } catch (err) {
    if (err instanceof RemoteError) throw err;
    throw new RemoteError({ status: 0, code: 'SourceReadFailed', message: `reading part ${index + 1} of the source version failed`, retryable: true }, { cause: err });
  }
}

/**
 * Copies one version to the remote store: a delete marker as DeleteObject, a single-part object as
 * one PutObject, a multipart object as a multipart upload with the source's part sizes (so that the
 * destination's ETag is the source's), aborted if any step fails. Throws RemoteError; an object under
 * a customer's key (SSE-C) cannot be read here and fails for good before anything is sent.
 */
export async function replicateVersion(version: SourceVersion, remote: RemoteS3, options: { signal: AbortSignal }): Promise<ReplicaWrite> {
  const { signal } = options;
  if (version.deleteMarker) {
    const answer = await remote.deleteObject(version.key, { signal, headers: replicaMarkHeaders(version) });
    return { kind: 'delete-marker', etag: undefined, versionId: answer.versionId };
  }
  if (version.encryption === 'SSE-C') {
    throw unreplicable('CustomerKeyEncrypted', 'a version encrypted with a customer-provided key (SSE-C) cannot be replicated');
  }
  if (version.encryption === 'SSE-KMS') {
    throw unreplicable('KmsKeyEncrypted', 'a version encrypted with a KMS key (SSE-KMS) is not replicated');
  }
  const headers = replicaHeaders(version, Date.now());
  const partSizes = version.partSizes;
  if (partSizes === undefined) {
    const body = await partBody(version, 0, version.sizeBytes, signal);
    return { kind: 'put', ...(await remote.putObject(version.key, body, { signal, headers })) };
  }
  if (partSizes.length === 0 || partSizes.reduce((sum, sizeBytes) => sum + sizeBytes, 0) !== version.sizeBytes) {
    throw unreplicable('InconsistentParts', `the part sizes of the source version do not add up to its ${version.sizeBytes} bytes`);
  }
  const uploadId = await remote.createMultipartUpload(version.key, { signal, headers });
  try {
    const parts: { partNumber: number; etag: string }[] = [];
    for (const [index, sizeBytes] of partSizes.entries()) {
      const body = await partBody(version, index, sizeBytes, signal);
      parts.push({ partNumber: index + 1, etag: await remote.uploadPart(version.key, uploadId, index + 1, body, { signal }) });
    }
    return { kind: 'multipart', ...(await remote.completeMultipartUpload(version.key, uploadId, parts, { signal })) };
  } catch (err) {
    // Best effort: what an abort cannot remove, the destination's own clean-up of stale uploads will.
    await remote.abortMultipartUpload(version.key, uploadId, { signal: AbortSignal.timeout(ABORT_UPLOAD_TIMEOUT_MS) }).catch(() => undefined);
    throw err;
  }
}

/**
 * Sends a version's new tag set to the remote store: PutObjectTagging of the same version id (a Tessera
 * destination keeps the source's ids), or DeleteObjectTagging when the set is now empty.
 */
export async function replicateTags(version: Pick<SourceVersion, 'key' | 'versionId' | 'tags'>, remote: RemoteS3, options: { signal: AbortSignal }): Promise<void> {
  const call = { signal: options.signal, versionId: version.versionId, headers: { 'x-tessera-replica': 'true' } };
  if (Object.keys(version.tags).length === 0) await remote.deleteObjectTagging(version.key, call);
  else await remote.putObjectTagging(version.key, version.tags, call);
}
