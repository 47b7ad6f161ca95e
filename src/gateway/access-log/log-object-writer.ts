import { DigestedSource, PendingVersion, type EncryptionDeps, type WritePathDeps } from '../data-path/index.js';
import { S3Error } from '../s3/index.js';
import { LogDeliveryError, type LogObjectWriter } from './log-delivery.js';

/** A log object's attributes: plain text, owned by the target bucket's owner, no metadata or tags. */
const LOG_ATTRIBUTES = { contentType: 'text/plain', userMetadata: {}, headers: {}, tags: {} };

/**
 * Writes log objects through the gateway's own write path, as a PutObject would (erasure-coded,
 * committed on a write quorum, listed by the bucket's index) but never through HTTP, so delivery is
 * not itself a request that is logged. The target's SSE-S3 default is applied; no event or
 * replication note is made for a log object.
 */
export function logObjectWriter(services: WritePathDeps & EncryptionDeps): LogObjectWriter {
  return async (bucket, key, body, signal) => {
    const ctx = { services, signal };
    try {
      const record = await services.buckets.require(bucket, signal);
      const encryption = record.encryption === 'AES256' ? services.sealer.forBody(await services.kms.resolve({ kind: 'SSE-S3' })) : undefined;
      const digested = new DigestedSource(ctx, once(body), undefined);
      try {
        const pending = await PendingVersion.receive(ctx, bucket, key, digested.body, { encryption, expectedSizeBytes: body.length });
        const verified = await pending.guard(digested.digests());
        await pending.holdKey();
        await pending.commit(LOG_ATTRIBUTES, verified);
      } finally {
        digested.close();
      }
    } catch (err) {
      if (err instanceof S3Error && err.code === 'NoSuchBucket') throw new LogDeliveryError('LogTargetGone', `the log target bucket ${bucket} is gone`, { cause: err });
      throw err;
    }
  };
}

async function* once(body: Buffer): AsyncGenerator<Uint8Array> {
  yield body;
}
