import { t } from 'tap';
import {
  CreateBucketCommand,
  ListObjectsCommand,
  ListObjectVersionsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { bucketName } from '../helpers/bytes.js';
import { clusterWithBucket } from '../helpers/cluster.js';

// Listing edges checked against the S3 API reference and the behaviour other S3 stores had to match.
const { s3 } = await clusterWithBucket(t);

async function bucketWith(label: string, keys: readonly string[]): Promise<string> {
  const bucket = bucketName(label);
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  for (const Key of keys) await s3.send(new PutObjectCommand({ Bucket: bucket, Key, Body: 'x' }));
  return bucket;
}

t.test('a marker below the prefix in UTF-8 order lists only keys under the prefix (U+E000 sorts before U+10000)', async (t) => {
  // In UTF-16 code units U+E000 sorts after U+10000's surrogates; in UTF-8 bytes (S3's order) before.
  const bucket = await bucketWith('utf8-marker', ['\uF000', '\u{10000}a']);
  const v2 = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: '\u{10000}', StartAfter: '\uE000' }));
  t.same(v2.Contents?.map((c) => c.Key), ['\u{10000}a'], 'ListObjectsV2 with start-after');
  const v1 = await s3.send(new ListObjectsCommand({ Bucket: bucket, Prefix: '\u{10000}', Marker: '\uE000' }));
  t.same(v1.Contents?.map((c) => c.Key), ['\u{10000}a'], 'ListObjects with marker');
  const versions = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: '\u{10000}', KeyMarker: '\uE000' }));
  t.same(versions.Versions?.map((v) => v.Key), ['\u{10000}a'], 'ListObjectVersions with key-marker');
});
