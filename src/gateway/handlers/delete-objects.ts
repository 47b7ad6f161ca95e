import pLimit from 'p-limit';
import { deleteKey, metadataSignal } from '../data-path/index.js';
import { bucketOf, header, readSmallBody, requireKeyAccess, type RequestContext } from '../http/index.js';
import { renderXml, requestDocumentRoot, S3Error, toS3Error, validateKey } from '../s3/index.js';

const MAX_KEYS_PER_REQUEST = 1000;
const PARALLEL_DELETES = 16;

interface DeleteEntry {
  key: string;
  /** `null` (the only version of an unversioned bucket's key) or an id that cannot exist. */
  versionId: string | undefined;
}

function keysFromDocument(text: string): { keys: DeleteEntry[]; quiet: boolean } {
  const root = requestDocumentRoot(text, 'Delete');
  const { Object: objects, Quiet: quiet } = root as { Object?: unknown; Quiet?: unknown };
  const list = objects === undefined ? [] : Array.isArray(objects) ? objects : [objects];
  const keys = list.map((entry): DeleteEntry => {
    const { Key: keyValue, VersionId: versionId } = (entry ?? {}) as { Key?: unknown; VersionId?: unknown };
    if (typeof keyValue !== 'string' || (versionId !== undefined && typeof versionId !== 'string')) throw new S3Error('MalformedXML');
    return { key: keyValue, versionId: versionId?.trim() };
  });
  if (keys.length === 0 || keys.length > MAX_KEYS_PER_REQUEST) throw new S3Error('MalformedXML');
  return { keys, quiet: String(quiet).trim().toLowerCase() === 'true' };
}

/** DeleteObjects: up to 1,000 keys; each key succeeds or fails on its own, as S3 reports them. */
export async function deleteObjects(ctx: RequestContext): Promise<void> {
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
  const bucketRecord = await ctx.services.buckets.require(bucket, metadataSignal(ctx));
  const results = await pLimit(PARALLEL_DELETES).map(keys, async (entry): Promise<DeleteEntry & { error?: S3Error }> => {
    try {
      validateKey(entry.key);
      // Buckets are unversioned: `null` names the key's only version, any other id none at all.
      if (entry.versionId !== undefined && entry.versionId !== 'null') throw new S3Error('NoSuchVersion');
      requireKeyAccess(ctx, bucketRecord, entry.key, 's3:DeleteObject');
      await deleteKey(ctx, bucket, entry.key);
      return entry;
    } catch (err) {
      const error = toS3Error(err);
      if (error.code === 'InternalError') ctx.request.log.error({ err, key: entry.key }, 'delete in DeleteObjects failed');
      return { ...entry, error };
    }
  });
  const version = (r: DeleteEntry): Record<string, string> => (r.versionId === undefined ? {} : { VersionId: r.versionId });
  const deleted = results.filter((r) => r.error === undefined && !quiet).map((r) => ({ Key: r.key, ...version(r) }));
  const errors = results
    .filter((r) => r.error !== undefined)
    .map((r) => ({ Key: r.key, ...version(r), Code: r.error?.code, Message: r.error?.message }));
  await ctx.reply.type('application/xml').send(renderXml('DeleteResult', { Deleted: deleted, Error: errors }));
}
