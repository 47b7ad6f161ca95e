import { t } from 'tap';
import { clusterWithBucket } from '../../helpers/cluster.js';
import { rawS3 } from '../raw-s3.js';

t.test('any Content-Type, even one that is not a media type, is taken and stored as S3 does, never a 500', async (t) => {
  const { cluster, bucket } = await clusterWithBucket(t);
  for (const [i, contentType] of ['a', '', ';', 'text/plain; charset', '"quoted"', 'x/y/z'].entries()) {
    const key = `typed-${i}`;
    const put = await rawS3(cluster.endpoint, { method: 'PUT', bucket, key, headers: { 'content-type': contentType }, body: `body ${i}` });
    t.equal(put.status, 200, `PUT with Content-Type ${JSON.stringify(contentType)}`);
    const got = await rawS3(cluster.endpoint, { method: 'GET', bucket, key });
    t.equal(got.body, `body ${i}`);
    if (contentType.trim() !== '') t.equal(got.headers['content-type'], contentType, 'stored as sent');
    const removed = await rawS3(cluster.endpoint, { method: 'DELETE', bucket, key, headers: { 'content-type': contentType } });
    t.equal(removed.status, 204, 'DELETE with it too');
  }
});
