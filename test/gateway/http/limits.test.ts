import { connect, type Socket } from 'node:net';
import { t } from 'tap';
import { bucketOn, clusterWithBucket, startCluster } from '../../helpers/cluster.js';
import { rawS3, signRaw } from '../raw-s3.js';

// Generous against a loaded machine: the steady upload sends 20x the minimum rate, the trickle 1/25 of it.
const WINDOW_MS = 2_000;
const SLOW_CLIENTS = { slowClientWindowMs: WINDOW_MS, slowClientMinBytes: 4096 };

/**
 * A raw connection to the gateway: `answered` settles with the first bytes the gateway sends (or with
 * nothing once it closes), `closed` with everything it sent once it closes. Both listen from the start,
 * so an answer that comes while the client is still writing is not missed.
 */
function openSocket(endpoint: string): { socket: Socket; answered: Promise<string>; closed: Promise<string> } {
  const url = new URL(endpoint);
  const socket = connect(Number(url.port), url.hostname);
  const received: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => received.push(chunk));
  socket.on('error', () => undefined);
  const answered = new Promise<string>((resolve) => {
    socket.once('data', (chunk: Buffer) => resolve(chunk.toString('latin1')));
    socket.once('close', () => resolve(''));
  });
  const closed = new Promise<string>((resolve) => socket.on('close', () => resolve(Buffer.concat(received).toString('latin1'))));
  return { socket, answered, closed };
}

/** Writes `piece` every `everyMs` until the socket closes or `deadlineMs` passes; resolves with whether the socket was closed. */
async function trickle(socket: Socket, closed: Promise<string>, piece: string | Buffer, everyMs: number, deadlineMs: number): Promise<boolean> {
  let isClosed = false;
  void closed.then(() => (isClosed = true));
  const until = Date.now() + deadlineMs;
  while (!isClosed && Date.now() < until) {
    if (!socket.destroyed) socket.write(piece);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
  return isClosed;
}

// The two slow-client cases share one gateway with the short window, each in a bucket of its own.
const slowClients = await startCluster({ nodeHealing: false, gatewayOverrides: SLOW_CLIENTS });
t.teardown(() => slowClients.close());

t.test('request headers that trickle are cut off once the window passes', async (t) => {
  const { cluster, bucket } = await bucketOn(slowClients);
  const { socket, closed } = openSocket(cluster.endpoint);
  socket.write(`GET /${bucket} HTTP/1.1\r\nHost: 127.0.0.1\r\n`);
  // One header line every 100 ms would never end: the gateway must close the connection.
  const cut = await trickle(socket, closed, 'x-filler: 1\r\n', 100, 30 * WINDOW_MS);
  t.ok(cut, 'the connection was closed');
  t.match(await closed, /^(HTTP\/1\.1 408|)/, 'with 408 Request Timeout or nothing');
  t.equal((await rawS3(cluster.endpoint, { method: 'GET', bucket })).status, 200, 'the gateway keeps serving');
});

t.test('a body that trickles is cut off and leaves no object; a slow but steady one is served', async (t) => {
  const { cluster, bucket } = await bucketOn(slowClients);
  const sizeBytes = 64 * 1024;
  const headOf = async (key: string): Promise<string> => {
    const signed = await signRaw(cluster.endpoint, { method: 'PUT', bucket, key, headers: { 'content-length': String(sizeBytes), 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } });
    return `PUT ${signed.pathAndQuery} HTTP/1.1\r\n${Object.entries(signed.headers).map(([name, value]) => `${name}: ${value}\r\n`).join('')}\r\n`;
  };
  const slow = openSocket(cluster.endpoint);
  slow.socket.write(await headOf('trickled'));
  t.ok(await trickle(slow.socket, slow.closed, 'x'.repeat(16), 100, 30 * WINDOW_MS), 'a body at 160 bytes/s was cut off');
  t.equal((await rawS3(cluster.endpoint, { method: 'HEAD', bucket, key: 'trickled' })).status, 404, 'and left no object');

  const steady = openSocket(cluster.endpoint);
  steady.socket.write(await headOf('steady'));
  // 4 KiB every 100 ms: slow, but well above the minimum rate; the whole body takes more than a window.
  for (let sent = 0; sent < sizeBytes; sent += 4096) {
    steady.socket.write(Buffer.alloc(4096, 0x61));
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  // The answer may come before the last piece's pause is over: `answered` listened from the start.
  const answer = await steady.answered;
  steady.socket.destroy();
  t.match(answer, /^HTTP\/1\.1 200/, 'the steady upload completed');
  t.equal((await rawS3(cluster.endpoint, { method: 'HEAD', bucket, key: 'steady' })).headers['content-length'], String(sizeBytes));
});

t.test('oversized headers, keys, metadata, tag sets and XML bodies are refused with their errors and change nothing', async (t) => {
  const { cluster, bucket } = await clusterWithBucket(t, { nodeHealing: false });
  const big = await rawS3(cluster.endpoint, { method: 'PUT', bucket, key: 'big-header', headers: { 'x-filler': 'f'.repeat(20 * 1024) }, body: 'x' }).then(
    (response) => `${response.status} ${/<Code>(\w+)<\/Code>/.exec(response.body.toString())?.[1] ?? ''}`,
    () => 'closed' as const,
  );
  // S3's answer; the connection may also close before the client reads it.
  t.ok(big === '400 RequestHeaderSectionTooLarge' || big === 'closed', `headers past 16 KiB: 400 RequestHeaderSectionTooLarge (${big})`);
  const cases: [string, Parameters<typeof rawS3>[1], number, string][] = [
    ['a key past 1,024 bytes', { method: 'PUT', bucket, key: 'k'.repeat(1025), body: 'x' }, 400, 'KeyTooLongError'],
    ['user metadata past 2 KiB', { method: 'PUT', bucket, key: 'meta', headers: { 'x-amz-meta-big': 'm'.repeat(2100) }, body: 'x' }, 400, 'MetadataTooLarge'],
    ['more than 10 object tags', { method: 'PUT', bucket, key: 'tags', headers: { 'x-amz-tagging': Array.from({ length: 11 }, (_, i) => `k${i}=v`).join('&') }, body: 'x' }, 400, 'InvalidTag'],
    ['a tagging document past 64 KiB', { method: 'PUT', bucket, query: { tagging: '' }, body: `<Tagging><TagSet>${'<Tag><Key>k</Key><Value>v</Value></Tag>'.repeat(2000)}</TagSet></Tagging>` }, 400, 'MalformedXML'],
    ['a DeleteObjects document past 2 MiB', { method: 'POST', bucket, query: { delete: '' }, body: `<Delete>${'<Object><Key>kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk</Key></Object>'.repeat(45_000)}</Delete>` }, 400, 'MalformedXML'],
  ];
  for (const [name, request, status, code] of cases) {
    const response = await rawS3(cluster.endpoint, request);
    t.equal(response.status, status, `${name}: ${status}`);
    t.match(response.body, `<Code>${code}</Code>`);
  }
  for (const key of ['meta', 'tags', 'big-header']) {
    t.equal((await rawS3(cluster.endpoint, { method: 'HEAD', bucket, key })).status, 404, `no object ${key} was written`);
  }
});

t.test('small bodies held at once are capped gateway-wide: past the cap a request gets SlowDown, and the bytes come back', async (t) => {
  const { cluster, bucket } = await clusterWithBucket(t, { nodeHealing: false, gatewayOverrides: { maxBufferedBodyBytes: 64 * 1024 } });
  // One tagging document of 60 KiB is half sent and held there, so its bytes stay taken.
  const held = openSocket(cluster.endpoint);
  const sizeBytes = 60 * 1024;
  const signed = await signRaw(cluster.endpoint, { method: 'PUT', bucket, query: { tagging: '' }, headers: { 'content-length': String(sizeBytes), 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } });
  held.socket.write(`PUT ${signed.pathAndQuery} HTTP/1.1\r\n${Object.entries(signed.headers).map(([name, value]) => `${name}: ${value}\r\n`).join('')}\r\n`);
  for (let i = 0; i < 10; i += 1) {
    held.socket.write(Buffer.alloc(4096, 0x20));
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  // The decoder forwards all but its latest piece: most of the 40 KiB is in the handler's hands.
  await waitFor(() => cluster.gateway.requests.bufferedBodyBytes >= 8 * 1024);
  const refused = await rawS3(cluster.endpoint, { method: 'PUT', bucket, key: 'k', query: { tagging: '' }, body: `<Tagging><TagSet>${' '.repeat(60 * 1024)}</TagSet></Tagging>` });
  t.equal(refused.status, 503);
  t.match(refused.body, /<Code>SlowDown<\/Code>/);
  t.equal(refused.headers['retry-after'], '1');
  held.socket.write(Buffer.alloc(sizeBytes - 40 * 1024, 0x20));
  t.match(await held.answered, /^HTTP\/1\.1 400/, 'the held request was answered (its blank document is MalformedXML)');
  held.socket.destroy();
  await waitFor(() => cluster.gateway.requests.bufferedBodyBytes === 0);
  t.pass('every byte was given back');
});

async function waitFor(condition: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setImmediate(resolve));
  }
}
