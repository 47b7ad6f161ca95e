import { UPLOADS_BUCKET, uploadMarkerKey, type BucketRecord, type ObjectRecord, type UploadInfo } from '../../../rpc/index.js';
import { acquireSharedLease, metadataSignal, releaseSharedLease, resolveVersion, type ListPathDeps, type NodeRounds, type RecordWriteDeps } from '../../data-path/index.js';
import type { RequestContext } from '../../http/index.js';
import { S3Error } from '../../s3/index.js';

const MAX_PART_NUMBER = 10_000;

/** What every part is stored with: its bytes are all that counts (the upload's marker has the object's attributes). */
export const PART_ATTRIBUTES = { contentType: 'binary/octet-stream', userMetadata: {}, headers: {}, tags: {} } as const;

/** The request's uploadId, or NoSuchUpload when it cannot be one of ours. */
export function uploadIdOf(ctx: RequestContext<unknown>): string {
  const uploadId = ctx.target.query.get('uploadId') ?? '';
  if (!/^[0-9a-f]{32}$/.test(uploadId)) throw new S3Error('NoSuchUpload', { fields: { UploadId: uploadId } });
  return uploadId;
}

/** The request's partNumber: an integer from 1 to 10,000. */
export function partNumberOf(ctx: RequestContext<unknown>): number {
  const text = ctx.target.query.get('partNumber') ?? '';
  const partNumber = /^\d{1,5}$/.test(text) ? Number(text) : 0;
  if (partNumber < 1 || partNumber > MAX_PART_NUMBER) {
    throw new S3Error('InvalidArgument', { message: 'Part number must be an integer between 1 and 10000, inclusive', fields: { ArgumentName: 'partNumber', ArgumentValue: text } });
  }
  return partNumber;
}

/**
 * The upload's newest marker record, open or closing (a delete marker), when it exists, belongs to
 * `key` and was started in the bucket that now has the name; null otherwise.
 */
export async function findUpload(ctx: RequestContext<ListPathDeps>, bucket: string, key: string, uploadId: string): Promise<(ObjectRecord & { upload: UploadInfo }) | null> {
  const marker = uploadMarkerKey(bucket, uploadId);
  const sets = ctx.services.cluster.readSets(UPLOADS_BUCKET, marker);
  const [version, bucketRecord] = await Promise.all([
    resolveVersion(sets, UPLOADS_BUCKET, marker, ctx.services.erasure, metadataSignal(ctx), { withDeleteMarkers: true }),
    ctx.services.buckets.require(bucket, ctx.signal),
  ]);
  const upload = version?.record.upload;
  if (version === null || upload === undefined || upload.key !== key || !ofThisBucket(upload, bucketRecord)) return null;
  return { ...version.record, upload };
}

/**
 * Whether an upload was started in this bucket rather than in an earlier one of the same name that was
 * deleted (S3 lets DeleteBucket go ahead with uploads in progress; they end with it). Markers from
 * before the bucket's creation time was recorded count as this bucket's.
 */
export function ofThisBucket(upload: UploadInfo, bucket: BucketRecord): boolean {
  return upload.bucketCreatedMs === undefined || upload.bucketCreatedMs === bucket.createdMs;
}

/** The upload's marker record; NoSuchUpload when it never existed, was completed or aborted, or names another key. */
export async function requireUpload(ctx: RequestContext<ListPathDeps>, bucket: string, key: string, uploadId: string): Promise<ObjectRecord & { upload: UploadInfo }> {
  const found = await findUpload(ctx, bucket, key, uploadId);
  if (found === null || found.deleted || found.upload.closed !== undefined) throw new S3Error('NoSuchUpload', { fields: { UploadId: uploadId } });
  return found;
}

/**
 * Refuses to replace a part of an upload whose completion may have written its manifest (its gateway
 * stopped between the manifest and the closing marker): that manifest may list the part, and its
 * bytes would go. Completing the upload again, or aborting it, settles which it is.
 */
export function requireNotCompleting(marker: ObjectRecord & { upload: UploadInfo }): void {
  if (marker.upload.completing === true) {
    throw new S3Error('OperationAborted', { message: 'This upload is being completed; complete it again to finish, or abort it.' });
  }
}

/**
 * What keeps a part from replacing one a completion uses. A completion holds the upload marker's
 * exclusive lease from before it reads the parts until its closing marker is committed; a part write
 * takes the marker's shared lease once its data is durable, checks that the upload is still open, and
 * commits its part before giving the lease back. Of a part write and a completion that overlap, either
 * the part commits first (and the completion reads it) or the completion closes the upload first (and
 * the part is refused with NoSuchUpload, its shards dropped): a manifest never lists a part version
 * that a later upload of the same part number replaced, which would delete that version's shards.
 * A completion that stopped before closing the upload left it `completing`, and parts are refused too.
 * `token` names this write's hold; give it back with releaseOpenUpload whether or not this succeeded.
 */
export async function holdOpenUpload(ctx: RequestContext<RecordWriteDeps>, bucket: string, key: string, uploadId: string, token: string): Promise<void> {
  await acquireSharedLease(ctx, UPLOADS_BUCKET, uploadMarkerKey(bucket, uploadId), token);
  requireNotCompleting(await requireUpload(ctx, bucket, key, uploadId));
}

/** Gives back a part write's hold on its upload (holdOpenUpload). */
export async function releaseOpenUpload(ctx: RequestContext<NodeRounds>, bucket: string, uploadId: string, token: string): Promise<void> {
  await releaseSharedLease(ctx, UPLOADS_BUCKET, uploadMarkerKey(bucket, uploadId), token);
}
