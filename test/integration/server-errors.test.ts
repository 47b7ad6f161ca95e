import { t } from 'tap';
import { clusterWithBucket } from '../helpers/cluster.js';
import { rawS3, xmlField } from '../gateway/raw-s3.js';

t.test('a 5xx names its request id in the body and in x-amz-request-id, and writes nothing', { timeout: 120_000 }, async (t) => {
  const { cluster, bucket } = await clusterWithBucket(t);
  // 4+2 needs four commits: with three of six nodes gone no write can meet its quorum.
  for (const index of [0, 1, 2]) await cluster.stopNode(index);
  const put = await rawS3(cluster.endpoint, { method: 'PUT', bucket, key: 'lost', body: 'x' });
  t.ok(put.status >= 500, `a write without quorum is a server error (${put.status})`);
  const requestId = put.headers['x-amz-request-id'];
  t.match(requestId, /^[0-9A-F]{16}$/, 'x-amz-request-id is set');
  t.equal(xmlField(put.body, 'RequestId'), requestId, 'the body names the same request id');
  t.ok(['ServiceUnavailable', 'SlowDown', 'InternalError'].includes(xmlField(put.body, 'Code') ?? ''), `an S3 code (${xmlField(put.body, 'Code')})`);
});
