import { newToken } from '../../../common/index.js';
import { UPLOADS_BUCKET, uploadPartKey, type BucketRecord, type ObjectRecord } from '../../../rpc/index.js';
import { DigestedSource, PendingVersion, type BodyDigests, type PendingChange, type VerifiedBody, type VersionAttributes, type WritePathDeps } from '../../data-path/index.js';
import type { BodyEncryption } from '../../encryption/index.js';
import { decodedBody, header, type AccessDeps, type RequestContext } from '../../http/index.js';
import { S3Error } from '../../s3/index.js';
import type { ChecksumAlgorithm } from '../../s3/checksums/index.js';
import { checkQuota } from './bucket-quota.js';
import { checkWritePreconditions, type WritePreconditions } from './preconditions.js';
import { holdOpenUpload, PART_ATTRIBUTES, releaseOpenUpload } from './upload-lookup.js';

/** Largest single PUT (and copy source) S3 accepts; larger objects need multipart upload. */
export const MAX_PUT_BYTES = 5 * 1024 ** 3;

/** A body on its way into a new version: its bytes, and its checks once they have all been stored. */
export interface IncomingBody {
  readonly body: AsyncIterable<Uint8Array>;
  /** The size the request declared (Content-Length), when it did. */
  readonly expectedSizeBytes?: number | undefined;
  /** The body's digests once `sizeBytes` of it were stored to its end; throws when a check fails. */
  verify(sizeBytes: number): Promise<VerifiedBody>;
  /** Gives back what the checks hold, whether or not the write went through. */
  close(): void;
}

/**
 * The request body, unframed and checked as it streams (signatures, payload hash, the checksums its
 * headers declare); `checksumAlgorithm`: one to compute when the client sends none (a multipart upload's).
 */
export function requestBody(ctx: RequestContext<BodyDigests>, checksumAlgorithm?: ChecksumAlgorithm): IncomingBody {
  const raw = ctx.auth.decodedContentLength ?? header(ctx, 'content-length');
  const declared = raw === undefined ? undefined : Number(raw);
  if (declared !== undefined && declared > MAX_PUT_BYTES) {
    throw new S3Error('EntityTooLarge', { fields: { MaxSizeAllowed: String(MAX_PUT_BYTES) } });
  }
  const { decoder, done } = decodedBody(ctx, checksumAlgorithm === undefined ? {} : { defaultChecksumAlgorithm: checksumAlgorithm });
  return {
    body: decoder,
    expectedSizeBytes: declared,
    verify: async (sizeBytes) => {
      await done;
      if (declared !== undefined && sizeBytes !== declared) throw new S3Error('IncompleteBody');
      return decoder.result();
    },
    close: () => undefined,
  };
}

/** Bytes already in the store (a copy source) or a form's file, hashed on their way: MD5 and, when asked, a checksum. */
export function storedBody(ctx: RequestContext<BodyDigests>, source: AsyncIterable<Uint8Array>, checksumAlgorithm: ChecksumAlgorithm | undefined): IncomingBody {
  const digested = new DigestedSource(ctx, source, checksumAlgorithm);
  return { body: digested.body, verify: () => digested.digests(), close: () => digested.close() };
}

/**
 * Writes `incoming` as a new version of bucket/key, stage by stage: receive (encode, shards durable on a
 * write quorum), verify the body, take the key's lease, check the write's preconditions again (they
 * were checked before the body too, so a refused upload costs no transfer), commit (with the note of
 * `change`, the event the write is, when the bucket's notification configurations select it). The
 * bucket's quota (`bucketRecord`) is checked before the body with its declared size, and again with
 * the size received before the commit, so a write past it leaves nothing visible.
 */
export async function writeObject(
  ctx: RequestContext<WritePathDeps & AccessDeps>,
  bucket: string,
  key: string,
  attributes: VersionAttributes,
  incoming: IncomingBody,
  options: { encryption: BodyEncryption | undefined; preconditions: WritePreconditions | undefined; change: PendingChange | undefined; bucketRecord: BucketRecord },
): Promise<ObjectRecord> {
  const { encryption, preconditions, bucketRecord } = options;
  try {
    await checkQuota(ctx, bucketRecord, { objects: 1, bytes: incoming.expectedSizeBytes ?? 0 });
    const pending = await PendingVersion.receive(ctx, bucket, key, incoming.body, { encryption, exclusive: preconditions !== undefined, expectedSizeBytes: incoming.expectedSizeBytes });
    const verified = await pending.guard(incoming.verify(pending.sizeBytes));
    await pending.guard(checkQuota(ctx, bucketRecord, { objects: 1, bytes: pending.sizeBytes }, { reserve: true }));
    const seen = await pending.holdKey();
    if (preconditions !== undefined) await pending.guard(checkWritePreconditions(ctx, bucket, key, preconditions, seen));
    return await pending.commit(attributes, verified, options.change);
  } finally {
    incoming.close();
  }
}

/**
 * Writes `incoming` as part `partNumber` of an upload, stage by stage like writeObject; its last check
 * takes the upload's shared lease and finds the upload still open (holdOpenUpload), held until the part
 * is committed, so a completion either lists this part or refuses it. A part that alone would take
 * the upload's bucket past its byte quota is refused (the completion checks the whole object).
 */
export async function writePart(
  ctx: RequestContext<WritePathDeps>,
  upload: { bucket: string; key: string; uploadId: string; partNumber: number },
  incoming: IncomingBody,
  encryption: BodyEncryption | undefined,
): Promise<ObjectRecord> {
  const { bucket, key, uploadId, partNumber } = upload;
  const token = newToken();
  let held = false;
  try {
    const bucketRecord = await ctx.services.buckets.require(bucket, ctx.signal);
    await checkQuota(ctx, bucketRecord, { objects: 0, bytes: incoming.expectedSizeBytes ?? 0 });
    const pending = await PendingVersion.receive(ctx, UPLOADS_BUCKET, uploadPartKey(bucket, uploadId, partNumber), incoming.body, { encryption, expectedSizeBytes: incoming.expectedSizeBytes });
    const verified = await pending.guard(incoming.verify(pending.sizeBytes));
    await pending.guard(checkQuota(ctx, bucketRecord, { objects: 0, bytes: pending.sizeBytes }));
    await pending.holdKey();
    held = true;
    await pending.guard(holdOpenUpload(ctx, bucket, key, uploadId, token));
    return await pending.commit(PART_ATTRIBUTES, verified);
  } finally {
    incoming.close();
    if (held) await releaseOpenUpload(ctx, bucket, uploadId, token);
  }
}

/** The stored flexible checksums as response headers; an object (not a part) also names its x-amz-checksum-type. */
export function setChecksumHeaders(ctx: RequestContext<unknown>, record: ObjectRecord, withType: boolean): void {
  const entries = Object.entries(record.checksums);
  for (const [algorithm, value] of entries) ctx.reply.header(`x-amz-checksum-${algorithm.toLowerCase()}`, value);
  if (withType && entries.length > 0) ctx.reply.header('x-amz-checksum-type', record.checksumType ?? 'FULL_OBJECT');
}
