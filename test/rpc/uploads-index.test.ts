import { t } from 'tap';
import { indexOfRow, indexOwnerOf, indexShardFor, UPLOADS_BUCKET, uploadMarkerKey, uploadPartKey, uploadsIndexOf, type BucketRecord } from '../../src/rpc/index.js';

/** Which index a row of the uploads bucket belongs to (docs/bucket-index.md#multipart-uploads). */

const bucket: BucketRecord = { name: 'photos', versionId: '01a2213630790000193c2caa', createdMs: 1_700_000_000_000, deleted: false, index: { shards: [{ id: 0, from: '' }, { id: 1, from: 'm' }], uploads: true } };
const uploadId = 'a'.repeat(32);

t.test('an uploads-bucket key is governed by the user bucket it starts with; any other key by its own bucket', async (t) => {
  t.equal(indexOwnerOf(UPLOADS_BUCKET, uploadMarkerKey('photos', uploadId)), 'photos');
  t.equal(indexOwnerOf(UPLOADS_BUCKET, uploadPartKey('photos', uploadId, 7)), 'photos');
  t.equal(indexOwnerOf('photos', 'a/b/c'), 'photos', 'a user key with slashes names its own bucket');
  t.equal(indexOwnerOf(UPLOADS_BUCKET, '/no-bucket'), undefined, 'an uploads key naming no bucket has no index');
  t.equal(indexOwnerOf(UPLOADS_BUCKET, 'no-slash'), undefined);
});

t.test('the uploads index is one shard of uploads-bucket rows under the user bucket\'s incarnation, and only when the record says so', async (t) => {
  const uploads = uploadsIndexOf(bucket);
  t.equal(uploads?.name, UPLOADS_BUCKET);
  t.equal(uploads?.createdMs, bucket.createdMs, 'the incarnation is the user bucket\'s');
  t.same(uploads?.index, { shards: [{ id: 0, from: '' }] }, 'one shard, whatever the bucket\'s own shard map');
  t.equal(uploads === undefined ? -1 : indexShardFor(uploads.index as NonNullable<BucketRecord['index']>, uploadMarkerKey('photos', uploadId)), 0);
  t.same(uploadsIndexOf({ ...bucket, index: { ...(bucket.index as NonNullable<BucketRecord['index']>), building: true } })?.index, { shards: [{ id: 0, from: '' }], building: true }, 'a build in progress shows');
  t.equal(uploadsIndexOf({ ...bucket, index: { shards: [{ id: 0, from: '' }] } }), undefined, 'a bucket indexed before its uploads were has no uploads index');
  t.equal(uploadsIndexOf({ name: 'old', versionId: bucket.versionId, createdMs: 1, deleted: false }), undefined, 'nor has a bucket without any index');
});

t.test('indexOfRow picks the bucket\'s own index or its uploads index, and none for a deleted bucket', async (t) => {
  t.equal(indexOfRow(bucket, 'photos'), bucket);
  t.equal(indexOfRow(bucket, UPLOADS_BUCKET)?.name, UPLOADS_BUCKET);
  t.equal(indexOfRow({ ...bucket, deleted: true }, 'photos'), undefined);
  t.equal(indexOfRow(undefined, UPLOADS_BUCKET), undefined);
});
