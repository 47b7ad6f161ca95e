import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  PutObjectCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { t } from 'tap';
import { bucketName, collect, seededBytes } from '../../helpers/bytes.js';
import { morePasses, startGcCluster } from '../gc-cluster.js';

/**
 * The collector, a node restart and Object Lock on six real nodes: locked versions hidden behind delete
 * markers and newer writes, and the parts of a locked multipart object, outlive many collector passes
 * byte-identical; a node stopped and started again on its data still refuses to remove a locked version.
 */
const ALL = [0, 1, 2, 3, 4, 5];
const MiB = 1024 * 1024;

t.test('no collector pass takes a locked version or its parts; a restarted node still refuses to remove it', async (t) => {
  const cluster = await startGcCluster(t, { gcTombstoneGraceMs: 200, gcSettleMs: 100, gcIntervalMs: 200, auditIntervalMs: 10 * 60 * 1000 });
  const { s3 } = cluster;
  const bucket = bucketName('gclock');
  await s3.send(new CreateBucketCommand({ Bucket: bucket, ObjectLockEnabledForBucket: true }));
  const until = new Date(Date.now() + 86_400_000);
  const body = seededBytes(300_000, 7);
  const locked = (await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: body, ObjectLockMode: 'COMPLIANCE', ObjectLockRetainUntilDate: until }))).VersionId ?? '';
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'newer' }));
  await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'k' }));

  const parts = [seededBytes(5 * MiB, 8), seededBytes(100_000, 9)];
  const upload = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'mpu', ObjectLockLegalHoldStatus: 'ON' }));
  const etags: string[] = [];
  for (const [i, part] of parts.entries()) {
    etags.push((await s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'mpu', UploadId: upload.UploadId, PartNumber: i + 1, Body: part }))).ETag ?? '');
  }
  const mpu = await s3.send(
    new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'mpu', UploadId: upload.UploadId, MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) } }),
  );
  await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'mpu' }));

  await morePasses(cluster, ALL, 4, 60_000);
  const read = async (key: string, versionId: string): Promise<Buffer> => collect((await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, VersionId: versionId }))).Body as AsyncIterable<Uint8Array>);
  t.ok((await read('k', locked)).equals(body), 'the locked noncurrent version reads back byte-identical');
  t.ok((await read('mpu', mpu.VersionId ?? '')).equals(Buffer.concat(parts)), 'the locked multipart object, behind its marker, reads back byte-identical');

  await cluster.stopNode(0);
  await cluster.startNode(0);
  const refusal = await cluster
    .node(0)
    .deleteVersion({ bucket, key: 'k', versionId: locked, bypassGovernance: true })
    .then(
      () => 'removed',
      (err: { code?: string }) => err.code,
    );
  t.equal(refusal, 'Conflict', 'node-0, restarted on its data, refuses to remove the COMPLIANCE version');
  const denied = await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'mpu', VersionId: mpu.VersionId })).then(
    () => 'deleted',
    (err: { name?: string }) => err.name,
  );
  t.equal(denied, 'AccessDenied', 'the legal hold is enforced after the restart');
  t.ok((await read('k', locked)).equals(body));
});
