import pLimit from 'p-limit';
import type { BodyDigests, RecordWriteDeps } from '../../data-path/index.js';
import { bucketOf, header, readSmallBody, requireKeyAccess, type AccessDeps, type RequestContext } from '../../http/index.js';
import { parseDeleteConditions, renderXml, requestDocumentRoot, S3Error, toS3Error, validateKey, versionIdParam, type DeleteConditions } from '../../s3/index.js';
import { deleteObjectVersion, type DeleteOutcome } from './version-delete.js';

const MAX_KEYS_PER_REQUEST = 1000;
const PARALLEL_DELETES = 16;

interface DeleteEntry {
  key: string;
  /** The version to remove for good (`null` included); absent: write a delete marker. */
  versionId: string | undefined;
  /** The entry's ETag, LastModifiedTime and Size as sent: a conditional delete of this key. */
  conditionText: { ifMatch: string | undefined; lastModified: string | undefined; size: string | undefined };
}

function keysFromDocument(text: string): { keys: DeleteEntry[]; quiet: boolean } {
  const root = requestDocumentRoot(text, 'Delete');
  const { Object: objects, Quiet: quiet } = root as { Object?: unknown; Quiet?: unknown };
  const list = objects === undefined ? [] : Array.isArray(objects) ? objects : [objects];
  const keys = list.map((entry): DeleteEntry => {
    const { Key: keyValue, VersionId: versionId, ETag: etag, LastModifiedTime: lastModified, Size: size } = (entry ?? {}) as Record<string, unknown>;
    const optional = [versionId, etag, lastModified, size];
    if (typeof keyValue !== 'string' || optional.some((value) => value !== undefined && typeof value !== 'string')) throw new S3Error('MalformedXML');
    const text = (value: unknown): string | undefined => (value === undefined ? undefined : String(value));
    return { key: keyValue, versionId: text(versionId)?.trim(), conditionText: { ifMatch: text(etag), lastModified: text(lastModified), size: text(size) } };
  });
  if (keys.length === 0 || keys.length > MAX_KEYS_PER_REQUEST) throw new S3Error('MalformedXML');
  return { keys, quiet: String(quiet).trim().toLowerCase() === 'true' };
}

/**
 * DeleteObjects: up to 1,000 keys; each key succeeds or fails on its own, as S3 reports them. An entry
 * with ETag, LastModifiedTime or Size is a conditional delete of its key, checked as DeleteObject's
 * headers are: a failed one is that key's Error (PreconditionFailed, NoSuchKey) and changes nothing.
 */
export async function deleteObjects(ctx: RequestContext<RecordWriteDeps & BodyDigests & AccessDeps>): Promise<void> {
  const bucket = bucketOf(ctx);
  const hasDigest =
    header(ctx, 'content-md5') !== undefined ||
    Object.keys(ctx.request.headers).some((name) => name.startsWith('x-amz-checksum-')) ||
    (header(ctx, 'x-amz-trailer') ?? '').toLowerCase().includes('x-amz-checksum-');
  if (!hasDigest && ctx.auth.payloadMode !== 'sha256') {
    throw new S3Error('InvalidRequest', { message: 'Missing required header for this request: Content-MD5 or x-amz-checksum-*' });
  }
  const body = await readSmallBody(ctx, 2 * 1024 * 1024);
  const { keys, quiet } = keysFromDocument(body.toString('utf8'));
  const bucketRecord = await ctx.services.buckets.require(bucket, ctx.signal);
  const results = await pLimit(PARALLEL_DELETES).map(keys, async (entry): Promise<DeleteEntry & { error?: S3Error; outcome?: DeleteOutcome }> => {
    try {
      validateKey(entry.key);
      const conditions: DeleteConditions | undefined = parseDeleteConditions(entry.conditionText, { lastModified: 'LastModifiedTime', size: 'Size' });
      requireKeyAccess(ctx, bucketRecord, entry.key, entry.versionId === undefined ? 's3:DeleteObject' : 's3:DeleteObjectVersion');
      const outcome = await deleteObjectVersion(ctx, bucket, entry.key, versionIdParam(entry.versionId, entry.key), undefined, conditions);
      return { ...entry, outcome };
    } catch (err) {
      const error = toS3Error(err);
      if (error.code === 'InternalError') ctx.request.log.error({ err, key: entry.key }, 'delete in DeleteObjects failed');
      return { ...entry, error };
    }
  });
  const version = (r: DeleteEntry): Record<string, string> => (r.versionId === undefined ? {} : { VersionId: r.versionId });
  // A marker written answers DeleteMarker and DeleteMarkerVersionId; a version removed, its VersionId, and
  // when that version was a delete marker also DeleteMarker and DeleteMarkerVersionId (the id removed), as S3 does.
  const outcomeFields = (r: DeleteEntry & { outcome?: DeleteOutcome }): Record<string, unknown> => {
    const outcome = r.outcome;
    if (outcome === undefined) return version(r);
    if (r.versionId === undefined) return outcome.deleteMarker ? { DeleteMarker: true, DeleteMarkerVersionId: outcome.versionId } : {};
    return { ...version(r), ...(outcome.deleteMarker ? { DeleteMarker: true, DeleteMarkerVersionId: r.versionId } : {}) };
  };
  const deleted = results.filter((r) => r.error === undefined && !quiet).map((r) => ({ Key: r.key, ...outcomeFields(r) }));
  const errors = results
    .filter((r) => r.error !== undefined)
    .map((r) => ({ Key: r.key, ...version(r), Code: r.error?.code, Message: r.error?.message }));
  await ctx.reply.type('application/xml').send(renderXml('DeleteResult', { Deleted: deleted, Error: errors }));
}
