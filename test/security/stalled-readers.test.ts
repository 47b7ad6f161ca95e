import { createHash } from 'node:crypto';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { connect, type Socket } from 'node:net';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { t } from 'tap';
import { NODE_PATHS } from '../../src/rpc/index.js';
import { seededBytes } from '../helpers/bytes.js';
import { clusterWithBucket, type TestCluster } from '../helpers/cluster.js';
import { parsePrometheus } from '../helpers/prometheus.js';
import { until } from '../helpers/until.js';
import { rawS3, signRaw } from '../gateway/raw-s3.js';

// A client that stops reading a GET must not keep its turn at the gate, its buffers and its node reads
// for ever: past responseStallTimeoutMs without taking a byte it is cut off. A slow reader that keeps
// taking bytes is served to the end however long the whole body takes.
const STALL_MS = 2_000;
const GATE = { maxActiveRequests: 2, maxQueuedRequests: 2 };
/** Far more than loopback's socket buffers and the gateway's one stripe ahead can hold. */
const LARGE_BYTES = 16 * 1024 * 1024;

/** The raw request text of a signed GET, for a socket the test drives itself. */
async function getRequest(cluster: TestCluster, bucket: string, key: string): Promise<string> {
  const signed = await signRaw(cluster.endpoint, { method: 'GET', bucket, key });
  return `GET ${signed.pathAndQuery} HTTP/1.1\r\n${Object.entries(signed.headers).map(([name, value]) => `${name}: ${value}\r\n`).join('')}\r\n`;
}

/**
 * A connection that sends `request` and then reads nothing (its socket paused from the start). The test
 * destroys it when it ends, before the cluster closes: a gateway that never cuts it would not close.
 */
function stalledReader(t: { teardown(fn: () => void): void }, cluster: TestCluster, request: string): { socket: Socket; closed: Promise<boolean> } {
  const url = new URL(cluster.endpoint);
  const socket = connect(Number(url.port), url.hostname);
  t.teardown(() => socket.destroy());
  socket.pause();
  socket.on('error', () => undefined);
  socket.write(request);
  return { socket, closed: new Promise((resolve) => socket.once('close', () => resolve(true))) };
}

/** Everything a paused socket still holds and receives until the server's end: resumes it and counts bytes. */
async function drain(socket: Socket, closed: Promise<boolean>): Promise<number> {
  let bytes = 0;
  socket.on('data', (chunk: Buffer) => (bytes += chunk.length));
  socket.resume();
  await closed;
  return bytes;
}

/**
 * Shard reads the gateway has open with its nodes (undici's request channels): created and not yet
 * completed or failed. A read the gateway cancels fails with an abort.
 */
function openShardReads(t: { teardown(fn: () => void): void }): () => number {
  const open = new Set<object>();
  const isShardRead = (request: { method?: string; path?: string }): boolean => request.method === 'GET' && (request.path ?? '').startsWith(NODE_PATHS.shards);
  const onCreate = (message: unknown): void => {
    const { request } = message as { request: { method?: string; path?: string } };
    if (isShardRead(request)) open.add(request);
  };
  const onEnd = (message: unknown): void => void open.delete((message as { request: object }).request);
  subscribe('undici:request:create', onCreate);
  subscribe('undici:request:trailers', onEnd);
  subscribe('undici:request:error', onEnd);
  t.teardown(() => {
    unsubscribe('undici:request:create', onCreate);
    unsubscribe('undici:request:trailers', onEnd);
    unsubscribe('undici:request:error', onEnd);
  });
  return () => open.size;
}

async function gatewayFigure(cluster: TestCluster, name: string): Promise<number> {
  const { samples } = parsePrometheus(await cluster.gateway.metrics.text());
  return samples.find((sample) => sample.name === name)?.value ?? Number.NaN;
}

const inFlightGauge = (cluster: TestCluster): Promise<number> => gatewayFigure(cluster, 'tessera_gateway_requests_in_flight');
const stalledCuts = (cluster: TestCluster): Promise<number> => gatewayFigure(cluster, 'tessera_gateway_stalled_clients_total');

t.test('GETs that never read are cut off after the stall deadline: their turns, buffers and node reads are freed and others are served', async (t) => {
  const shardReads = openShardReads(t);
  // Longer than the other case's deadline: the refusal below must be asked while the stalled readers still
  // hold their turns, and on a loaded machine filling the gate took seconds.
  const stallMs = 3 * STALL_MS;
  const { cluster, s3, bucket } = await clusterWithBucket(t, { gatewayOverrides: { ...GATE, responseStallTimeoutMs: stallMs } });
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'large', Body: seededBytes(LARGE_BYTES, 7) }));
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'small', Body: 'hello' }));

  // As many readers as the gate serves and queues: every turn is held by a client that reads nothing.
  const count = GATE.maxActiveRequests + GATE.maxQueuedRequests;
  // No reader can be cut before a whole deadline has passed since it asked.
  const askedAt = Date.now();
  const stalled = await Promise.all(Array.from({ length: count }, async () => stalledReader(t, cluster, await getRequest(cluster, bucket, 'large'))));
  await until('the gate is full of stalled readers', async () => cluster.gateway.requests.active === GATE.maxActiveRequests && cluster.gateway.requests.queued === GATE.maxQueuedRequests, 20_000, 20);
  await until('the stalled GETs hold shard reads open on the nodes', async () => shardReads() > 0, 20_000, 20);
  const refused = await rawS3(cluster.endpoint, { method: 'GET', bucket, key: 'small' });
  t.equal(refused.status, 503, 'while they hold every turn, another client is refused');
  t.match(refused.body, /<Code>SlowDown<\/Code>/);

  // The active readers are cut after the deadline, then the queued ones (admitted, then stalled in turn).
  await until(
    'a normal GET is served again',
    async () => {
      const answer = await rawS3(cluster.endpoint, { method: 'GET', bucket, key: 'small' });
      return answer.status === 200 && answer.body === 'hello';
    },
    30 * stallMs,
  );
  const waitedMs = Date.now() - askedAt;
  t.ok(waitedMs >= stallMs, `served only once the stall deadline had passed (${waitedMs} ms after the stalled readers asked)`);

  await until('every turn is given back', async () => cluster.gateway.requests.active === 0 && cluster.gateway.requests.queued === 0, 30 * stallMs);
  await until('the in-flight gauge is back to zero', async () => (await inFlightGauge(cluster)) === 0, 30 * stallMs);
  await until('every shard read of the cut GETs is cancelled', async () => shardReads() === 0, 30 * stallMs);
  for (const [i, reader] of stalled.entries()) {
    // What the server had already handed to the kernel still arrives, then the connection ends, short of the body.
    const received = await drain(reader.socket, reader.closed);
    t.ok(received < LARGE_BYTES, `stalled reader ${i} was disconnected by the server before the end of the body (${received} bytes)`);
  }
  t.equal(await stalledCuts(cluster), count, 'each cut is counted');
});

t.test('a slow reader that keeps taking bytes is served to the end, byte for byte, while a stalled one beside it is cut', async (t) => {
  // Longer than the other case's deadline: the refusal below must be asked while the stalled readers still
  // hold their turns, and on a loaded machine filling the gate took seconds.
  const stallMs = 3 * STALL_MS;
  const { cluster, s3, bucket } = await clusterWithBucket(t, { gatewayOverrides: { ...GATE, responseStallTimeoutMs: stallMs } });
  const body = seededBytes(LARGE_BYTES, 11);
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'large', Body: body }));
  const stalled = stalledReader(t, cluster, await getRequest(cluster, bucket, 'large'));
  const { socket, closed } = stalledReader(t, cluster, await getRequest(cluster, bucket, 'large'));
  const received: Buffer[] = [];
  let receivedBytes = 0;
  let turnEnd = 0;
  // Pausing in the handler ends a turn at its 1 MiB (and one chunk): however late the loop below wakes on
  // a loaded machine, a turn takes no more, so the body needs about sixteen turns and their pauses.
  socket.on('data', (chunk: Buffer) => {
    received.push(chunk);
    receivedBytes += chunk.length;
    if (receivedBytes >= turnEnd) socket.pause();
  });
  let isClosed = false;
  void closed.then(() => (isClosed = true));
  // 1 MiB, then a pause of a fifth of the deadline: about 2.5 MB/s, so the body takes several deadlines.
  // (The kernel hands the gateway more only once a share of its send buffer, up to a few MiB, drains.)
  const started = Date.now();
  const headEnd = (): number => Buffer.concat(received).indexOf('\r\n\r\n');
  const wanted = (): number => {
    const end = headEnd();
    return end === -1 ? Number.POSITIVE_INFINITY : end + 4 + LARGE_BYTES;
  };
  while (!isClosed && receivedBytes < wanted()) {
    const target = receivedBytes + 1024 * 1024;
    turnEnd = target;
    socket.resume();
    await until('the next piece', async () => isClosed || receivedBytes >= Math.min(target, wanted()), 30_000, 5);
    socket.pause();
    await new Promise((resolve) => setTimeout(resolve, STALL_MS / 5));
  }
  const elapsedMs = Date.now() - started;
  socket.destroy();
  const all = Buffer.concat(received);
  const bodyStart = all.indexOf('\r\n\r\n') + 4;
  t.match(all.subarray(0, bodyStart).toString('latin1'), /^HTTP\/1\.1 200 /, 'the GET was answered 200');
  t.equal(all.length - bodyStart, LARGE_BYTES, 'the whole body arrived');
  t.equal(createHash('sha256').update(all.subarray(bodyStart)).digest('hex'), createHash('sha256').update(body).digest('hex'), 'byte for byte');
  t.ok(elapsedMs > 2 * STALL_MS, `the transfer took several stall deadlines (${elapsedMs} ms)`);
  await until('the stalled reader beside it is cut', async () => (await stalledCuts(cluster)) === 1, 10 * STALL_MS);
  t.ok((await drain(stalled.socket, stalled.closed)) < LARGE_BYTES, 'the stalled reader got a short body and the end of its connection');
});
