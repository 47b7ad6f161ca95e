import { S3Error } from './s3-errors.js';
import { deleteKey } from './write-version.js';
import { readSmallBody } from './request-body.js';
import { bucketOf, header, metadataSignal, type RequestContext } from './request-context.js';
import { validateKey } from './s3-request.js';
import { parseXml, renderXml } from './xml.js';

const MAX_KEYS_PER_REQUEST = 1000;
const PARALLEL_DELETES = 16;

function keysFromDocument(text: string): { keys: string[]; quiet: boolean } {
  let document: Record<string, unknown>;
  try {
    document = parseXml(text);
  } catch (err) {
    throw new S3Error('MalformedXML', { cause: err });
  }
  const root = document['Delete'];
  if (typeof root !== 'object' || root === null) throw new S3Error('MalformedXML');
  const { Object: objects, Quiet: quiet } = root as { Object?: unknown; Quiet?: unknown };
  const list = objects === undefined ? [] : Array.isArray(objects) ? objects : [objects];
  const keys = list.map((entry) => {
    const keyValue = (entry as { Key?: unknown } | null)?.Key;
    if (typeof keyValue !== 'string') throw new S3Error('MalformedXML');
    return keyValue;
  });
  if (keys.length === 0 || keys.length > MAX_KEYS_PER_REQUEST) throw new S3Error('MalformedXML');
  return { keys, quiet: String(quiet).trim().toLowerCase() === 'true' };
}

/** DeleteObjects: up to 1,000 keys; each key succeeds or fails on its own, as S3 reports them. */
export async function deleteObjects(ctx: RequestContext): Promise<void> {
  const bucket = bucketOf(ctx);
  const hasDigest =
    header(ctx, 'content-md5') !== undefined || Object.keys(ctx.request.headers).some((name) => name.startsWith('x-amz-checksum-'));
  if (!hasDigest && ctx.auth.payloadMode !== 'sha256') {
    throw new S3Error('InvalidRequest', { message: 'Missing required header for this request: Content-MD5 or x-amz-checksum-*' });
  }
  const body = await readSmallBody(ctx, 2 * 1024 * 1024);
  const { keys, quiet } = keysFromDocument(body.toString('utf8'));
  await ctx.services.buckets.require(bucket, metadataSignal(ctx));
  const results: ({ key: string; error?: S3Error })[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < keys.length) {
      const key = keys[next++] as string;
      try {
        validateKey(key);
        await deleteKey(ctx, bucket, key);
        results.push({ key });
      } catch (err) {
        const error = err instanceof S3Error ? err : new S3Error('InternalError', { cause: err });
        if (error.code === 'InternalError') ctx.request.log.error({ err, key }, 'delete in DeleteObjects failed');
        results.push({ key, error });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL_DELETES, keys.length) }, worker));
  const deleted = results.filter((r) => r.error === undefined && !quiet).map((r) => ({ Key: r.key }));
  const errors = results
    .filter((r) => r.error !== undefined)
    .map((r) => ({ Key: r.key, Code: r.error?.code, Message: r.error?.message }));
  await ctx.reply.type('application/xml').send(renderXml('DeleteResult', { Deleted: deleted, Error: errors }));
}
