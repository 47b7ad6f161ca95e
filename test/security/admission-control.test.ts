import { Readable } from 'node:stream';
import { PutBucketCorsCommand } from '@aws-sdk/client-s3';
import { t } from 'tap';
import { request } from 'undici';
import { TEST_CREDENTIALS, clusterWithBucket, type TestCluster } from '../helpers/cluster.js';
import { until } from '../helpers/until.js';
import { rawS3, signRaw } from '../gateway/raw-s3.js';

// Every route that reaches the nodes waits its turn at the request gate, the unauthenticated ones
// first: a flood of CORS preflights or console pages must not bypass the gateway's admission control.
const ORIGIN = 'https://app.example';

/** One upload that holds a turn until `finish` is called: its body is sent only then. */
async function heldUpload(cluster: TestCluster, bucket: string): Promise<{ finish: () => Promise<number> }> {
  const body = new Readable({ read() {} });
  const signed = await signRaw(cluster.endpoint, {
    method: 'PUT',
    bucket,
    key: 'held',
    headers: { 'content-length': '10', 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
  });
  body.push('hello');
  const sent = request(signed.url, { method: 'PUT', headers: signed.headers, body });
  await until('the upload holds the only turn', async () => cluster.gateway.requests.active === 1, 20_000, 20);
  return {
    finish: async () => {
      body.push('world');
      body.push(null);
      const answer = await sent;
      await answer.body.arrayBuffer();
      return answer.statusCode;
    },
  };
}

const preflight = (cluster: TestCluster, bucket: string): ReturnType<typeof rawS3> =>
  rawS3(cluster.endpoint, { method: 'OPTIONS', bucket, key: 'photo.jpg', anonymous: true, headers: { origin: ORIGIN, 'access-control-request-method': 'GET' } });

t.test('a CORS preflight waits its turn like any request: with every turn taken it is refused with SlowDown before any node is asked', async (t) => {
  // No bucket cache: a preflight let through would read the bucket's CORS rules from the nodes.
  const { cluster, s3, bucket } = await clusterWithBucket(t, { gatewayOverrides: { maxActiveRequests: 1, maxQueuedRequests: 0, bucketCacheTtlMs: 0 } });
  await s3.send(new PutBucketCorsCommand({ Bucket: bucket, CORSConfiguration: { CORSRules: [{ AllowedOrigins: [ORIGIN], AllowedMethods: ['GET'] }] } }));
  const held = await heldUpload(cluster, bucket);

  const refused = await preflight(cluster, bucket);
  t.equal(refused.status, 503, 'the preflight is refused while the gate is full');
  t.equal(refused.headers['retry-after'], '1', 'with Retry-After');
  t.match(refused.body, /<Code>SlowDown<\/Code>/, "and S3's SlowDown");

  t.equal(await held.finish(), 200, 'the held upload completes');
  await until('the turn is given back', async () => cluster.gateway.requests.active === 0, 20_000, 20);
  const answered = await preflight(cluster, bucket);
  t.equal(answered.status, 200, 'with a turn free, the preflight is answered from the bucket rules');
  t.equal(answered.headers['access-control-allow-origin'], ORIGIN);
  t.equal(cluster.gateway.requests.active, 0, "and the preflight's turn is given back when it is answered");
});

t.test('console API pages, which ask the nodes, wait their turn too: with every turn taken they are refused with 503', async (t) => {
  const { cluster, bucket } = await clusterWithBucket(t, { gatewayOverrides: { maxActiveRequests: 1, maxQueuedRequests: 0 } });
  const api = `${cluster.consoleEndpoint}/-/console/api`;
  const session = await fetch(`${api}/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...TEST_CREDENTIALS }) });
  t.equal(session.status, 200, 'signed in');
  const cookie = session.headers.get('set-cookie')?.split(';')[0] ?? '';
  const held = await heldUpload(cluster, bucket);

  const refused = await fetch(`${api}/overview`, { headers: { cookie } });
  t.equal(refused.status, 503, 'the overview (a health call to every node) is refused while the gate is full');
  t.equal(refused.headers.get('retry-after'), '1');
  t.match(await refused.json(), { code: 'SlowDown' });

  t.equal(await held.finish(), 200, 'the held upload completes');
  await until('the turn is given back', async () => cluster.gateway.requests.active === 0, 20_000, 20);
  const answered = await fetch(`${api}/overview`, { headers: { cookie } });
  t.equal(answered.status, 200, 'with a turn free, the overview is answered');
  await answered.arrayBuffer();
});
