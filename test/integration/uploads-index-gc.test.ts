import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  ListMultipartUploadsCommand,
  ListPartsCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { t } from 'tap';
import { UPLOADS_BUCKET, uploadMarkerKey, uploadPartKey } from '../../src/rpc/index.js';
import { startGcCluster } from '../storage-node/gc-cluster.js';
import { until } from '../helpers/until.js';

/**
 * A closed upload leaves its bucket's uploads index (docs/bucket-index.md, "Multipart uploads"): the
 * collector has every replica forget it, so ListMultipartUploads reads the open uploads only, however
 * many the bucket had. The closing markers themselves outlive this (a long tombstone grace).
 */

/** Starts an upload of `key` with one part; returns its id. */
async function uploadWithPart(s3: S3Client, bucket: string, key: string): Promise<{ uploadId: string; etag: string }> {
  const { UploadId: uploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
  if (uploadId === undefined) throw new Error('no upload id');
  const { ETag: etag } = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: uploadId, PartNumber: 1, Body: `part of ${key}` }));
  return { uploadId, etag: etag ?? '' };
}

t.test('after the collector, a bucket\'s uploads index holds rows of its open uploads only, and ListMultipartUploads lists exactly those', async (t) => {
  const cluster = await startGcCluster(t, { gcIntervalMs: 100, gcKeysPerSecond: 0, gcSettleMs: 0, gcTombstoneGraceMs: 60 * 60 * 1000, auditIntervalMs: 10 * 60 * 1000 });
  const { s3, bucket } = cluster;
  for (let i = 0; i < 5; i += 1) {
    const key = `done/${i}`;
    const { uploadId, etag } = await uploadWithPart(s3, bucket, key);
    await s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: etag }] } }));
  }
  const aborted: string[] = [];
  for (let i = 0; i < 5; i += 1) {
    const key = `dropped/${i}`;
    const { uploadId } = await uploadWithPart(s3, bucket, key);
    await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId }));
    aborted.push(uploadId);
  }
  const open = new Map<string, string>();
  for (let i = 0; i < 3; i += 1) open.set((await uploadWithPart(s3, bucket, `open/${i}`)).uploadId, `open/${i}`);

  const listed = async (): Promise<string[]> => {
    const page = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
    return (page.Uploads ?? []).map((upload) => `${upload.Key}:${upload.UploadId}`).sort();
  };
  const expected = [...open].map(([uploadId, key]) => `${key}:${uploadId}`).sort();
  t.same(await listed(), expected, 'only the open uploads are listed while the closed ones still have rows');

  const incarnation = (await cluster.store(0).bucketRecord(bucket))?.createdMs ?? 0;
  const openRows = [...open.keys()].flatMap((uploadId) => [uploadMarkerKey(bucket, uploadId), uploadPartKey(bucket, uploadId, 1)]).sort();
  /** The keys node i's replica of the uploads index holds rows of (entries, deletes by id, intents). */
  const rowKeys = async (i: number): Promise<string[]> => {
    const { ops } = await cluster.store(i).indexRows.exportPage(null, 10_000);
    const keys = ops.filter((op) => op.bucket === UPLOADS_BUCKET && op.incarnation === incarnation && op.key.startsWith(`${bucket}/`)).map((op) => op.key);
    return [...new Set(keys)].sort();
  };
  // Six nodes at 4+2: every node is a replica of the uploads index's one shard.
  const held = async (): Promise<string[][]> => Promise.all(Array.from({ length: 6 }, (_, i) => rowKeys(i)));
  await until('every replica of the uploads index holds rows of the open uploads only', async () => (await held()).every((keys) => JSON.stringify(keys) === JSON.stringify(openRows)), 60_000).catch(() => undefined);
  t.same(await held(), Array.from({ length: 6 }, () => openRows), 'the closed uploads\' markers and parts left every replica');
  t.same(await listed(), expected, 'ListMultipartUploads still lists exactly the open uploads');
  const [someId, someKey] = [...open][0] ?? ['', ''];
  const parts = await s3.send(new ListPartsCommand({ Bucket: bucket, Key: someKey, UploadId: someId }));
  t.same((parts.Parts ?? []).map((part) => part.PartNumber), [1], 'an open upload keeps its parts');
  const closing = await cluster.statuses(UPLOADS_BUCKET, uploadMarkerKey(bucket, aborted[0] ?? ''));
  t.ok(
    closing.some((status) => status?.record.upload?.closed === 'aborted'),
    'the index forgot an aborted upload while the nodes still hold its closing marker (the tombstone grace has not passed)',
  );
});
