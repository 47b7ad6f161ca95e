import { Readable } from 'node:stream';
import { request } from 'undici';
import { t } from 'tap';
import { RequestGate } from '../../../src/gateway/http/index.js';
import { S3Error } from '../../../src/gateway/s3/index.js';
import { clusterWithBucket, type TestCluster } from '../../helpers/cluster.js';
import { rawS3, signRaw } from '../raw-s3.js';

const LIMITS = { maxActive: 2, maxQueued: 2, retryAfterSeconds: 1 };

t.test('requests past the active limit wait in arrival order; past the queue limit they get SlowDown with Retry-After', async (t) => {
  const gate = new RequestGate(LIMITS);
  const never = new AbortController().signal;
  const first = await gate.enter(never);
  const second = await gate.enter(never);
  t.equal(gate.active, 2);
  const order: string[] = [];
  const third = gate.enter(never).then((release) => (order.push('third'), release));
  const fourth = gate.enter(never).then((release) => (order.push('fourth'), release));
  t.equal(gate.queued, 2);
  const refused = await gate.enter(never).catch((err: unknown) => err);
  t.ok(refused instanceof S3Error);
  t.match(refused, { code: 'SlowDown', status: 503, headers: { 'retry-after': '1' } });
  first();
  first();
  second();
  (await third)();
  (await fourth)();
  t.same(order, ['third', 'fourth'], 'waiters were admitted in arrival order, a double release counted once');
  t.equal(gate.active, 0);
  t.equal(gate.queued, 0);
});

t.test('a waiter whose client leaves gives its place up', async (t) => {
  const gate = new RequestGate({ ...LIMITS, maxActive: 1, maxQueued: 1 });
  const release = await gate.enter(new AbortController().signal);
  const leaving = new AbortController();
  const waiting = gate.enter(leaving.signal);
  leaving.abort(new Error('client disconnected'));
  await t.rejects(waiting, { message: 'client disconnected' });
  t.equal(gate.queued, 0);
  const next = gate.enter(new AbortController().signal);
  release();
  (await next)();
  t.equal(gate.active, 0);
});

t.test('a gateway at its limits queues requests and refuses only past the queue, with an S3 SlowDown error', async (t) => {
  const { cluster, bucket } = await clusterWithBucket(t, { gatewayOverrides: { maxActiveRequests: 1, maxQueuedRequests: 1 } });
  // One upload holds the only turn: its body trickles and is finished only when the test says so.
  const body = new Readable({ read() {} });
  const signed = await signRaw(cluster.endpoint, {
    method: 'PUT',
    bucket,
    key: 'held',
    headers: { 'content-length': '10', 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
  });
  body.push('hello');
  const held = request(signed.url, { method: 'PUT', headers: signed.headers, body });
  await waitFor(() => activeOf(cluster) === 1);
  const queued = rawS3(cluster.endpoint, { method: 'GET', bucket, key: 'held' });
  await waitFor(() => queuedOf(cluster) === 1);
  const refused = await rawS3(cluster.endpoint, { method: 'HEAD', bucket, key: 'held' });
  t.equal(refused.status, 503);
  t.equal(refused.headers['retry-after'], '1');
  const refusedGet = await rawS3(cluster.endpoint, { method: 'GET', bucket, key: 'held' });
  t.match(refusedGet.body, /<Code>SlowDown<\/Code>/);
  body.push('world');
  body.push(null);
  t.equal((await held).statusCode, 200, 'the held upload completes');
  const read = await queued;
  t.equal(read.status, 200, 'the queued request was served once the turn came');
  t.equal(read.body, 'helloworld');
});

const activeOf = (cluster: TestCluster): number => cluster.gateway.requests.active;
const queuedOf = (cluster: TestCluster): number => cluster.gateway.requests.queued;

async function waitFor(condition: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setImmediate(resolve));
  }
}
