import type { BucketRecord, ObjectEventName } from '../../../rpc/index.js';
import { pendingChange, type ChangeOrigin, type ChangeSubject, type PendingChange } from '../../data-path/index.js';
import { bucketOwnerOf, type AccessDeps, type RequestContext } from '../../http/index.js';
import { requesterId } from './request-acl.js';

/**
 * The change `eventName` of `key` this request makes, when a notification configuration of `bucket`
 * (docs/events.md) or one of its replication rules (docs/replication.md) selects it; the write carries
 * its note to the key's nodes. `subject`: the version's tags, and whether the change may replicate at
 * all. A bucket without either configuration costs this one check, and nothing is built for it: the
 * PUT path is hot.
 */
export function changeOf(
  ctx: RequestContext<Pick<AccessDeps, 'ownerId'>>,
  bucket: BucketRecord,
  eventName: ObjectEventName,
  key: string,
  subject?: ChangeSubject,
): PendingChange | undefined {
  if (bucket.notification === undefined && bucket.replication === undefined) return undefined;
  return pendingChange(bucket, eventName, key, originOf(ctx, bucket), subject);
}

/** Who sends the request and which request it is, as its answer names it (x-amz-request-id, x-amz-id-2). */
function originOf(ctx: RequestContext<Pick<AccessDeps, 'ownerId'>>, bucket: BucketRecord): ChangeOrigin {
  const hostId = ctx.reply.getHeader('x-amz-id-2');
  // The socket's address; a socket already closed has none.
  const sourceIp = (ctx.request.ip as string | undefined) ?? '';
  return {
    principalId: requesterId(ctx),
    sourceIp: sourceIp.slice(0, 64),
    requestId: ctx.request.id,
    hostId: typeof hostId === 'string' ? hostId : '',
    bucketOwnerId: bucketOwnerOf(ctx, bucket),
  };
}
