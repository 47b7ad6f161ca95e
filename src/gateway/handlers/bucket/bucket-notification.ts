import { randomBytes } from 'node:crypto';
import type { BodyDigests, BucketAdminDeps, BucketRecords } from '../../data-path/index.js';
import { parseTargetArn, parseTargetDefinition } from '../../../events/index.js';
import { bucketOf, readSmallBody, type RequestContext } from '../../http/index.js';
import { MAX_NOTIFICATION_BYTES, parseNotificationXml, renderNotification, S3Error } from '../../s3/index.js';

type NotificationDeps = BucketRecords & BodyDigests & Pick<BucketAdminDeps, 'users' | 'region'>;

/** GetBucketNotificationConfiguration: the bucket's configurations, or an empty document when it has none. */
export async function getBucketNotification(ctx: RequestContext<BucketRecords>): Promise<void> {
  const record = await ctx.services.buckets.require(bucketOf(ctx), ctx.signal);
  await ctx.reply.type('application/xml').send(renderNotification(record.notification ?? []));
}

/**
 * PutBucketNotificationConfiguration: replaces the bucket's configurations. Every ARN must name a
 * target the operator defined, of the type the ARN says; a target added a moment ago is found by
 * reading the targets again (at most one read per interval, shared, as for an unknown access key).
 */
export async function putBucketNotification(ctx: RequestContext<NotificationDeps>): Promise<void> {
  const bucket = bucketOf(ctx);
  const rules = parseNotificationXml((await readSmallBody(ctx, MAX_NOTIFICATION_BYTES)).toString('utf8'), () => randomBytes(24).toString('base64url'));
  const unknown = (): string[] =>
    [...new Set(rules.map((rule) => rule.arn))].filter((arn) => {
      const named = parseTargetArn(arn, ctx.services.region);
      const stored = named === undefined ? undefined : ctx.services.users.targetDefinition(named.name);
      if (named === undefined || stored === undefined) return true;
      try {
        return parseTargetDefinition(stored).type !== named.type;
      } catch {
        return true;
      }
    });
  let missing = unknown();
  if (missing.length > 0) {
    await ctx.services.users.refreshSoon();
    missing = unknown();
  }
  if (missing.length > 0) {
    const fields: Record<string, string> = {};
    missing.forEach((arn, i) => {
      fields[`ArgumentName${i + 1}`] = arn;
      fields[`ArgumentValue${i + 1}`] = 'The destination is not a defined event target';
    });
    throw new S3Error('InvalidArgument', { message: 'Unable to validate the following destination configurations', fields });
  }
  await ctx.services.buckets.update(
    bucket,
    ({ notification: _replaced, ...record }) => (rules.length === 0 ? record : { ...record, notification: rules }),
    ctx.signal,
    ctx.access.bucketCreatedMs,
  );
  await ctx.reply.send();
}
