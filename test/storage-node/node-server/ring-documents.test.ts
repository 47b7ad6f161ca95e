import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gunzip, gzip } from 'node:zlib';
import { t } from 'tap';
import { Client } from 'undici';
import { silentLogger } from '../../../src/common/index.js';
import { buildRing, parseRing, serializeRing, type Ring, type RingNode } from '../../../src/placement/index.js';
import { ANY_NODE, MAX_RING_DOCUMENT_BYTES, NODE_PATHS, NodeClient, PLAIN_RING_MAX_BYTES, bodySha256, encodeRingOffer, signRequest } from '../../../src/rpc/index.js';
import { StorageNode } from '../../../src/storage-node/index.js';
import { pushRing } from '../../../src/bin/ring-push.js';

const SECRET = 'ring-documents-secret';
const gzipAsync = promisify(gzip);
const gunzipAsync = promisify(gunzip);

const dir = await mkdtemp(join(tmpdir(), 'tessera-ring-documents-'));
const node = new StorageNode({ nodeId: 'n0', dataDir: join(dir, 'n0'), host: '127.0.0.1', port: 0, clusterSecret: SECRET, logger: silentLogger() });
const { port } = await node.start();
const address = `127.0.0.1:${port}`;
const client = new NodeClient({ nodeId: 'n0', address, clusterSecret: SECRET });
t.teardown(async () => {
  await client.close();
  await node.close();
  await rm(dir, { recursive: true, force: true });
});

// Twelve members in three zones; the node under test is one of them, the others only names in the table.
const members: RingNode[] = [{ id: 'n0', address, zone: 'z0', weight: 1 }];
for (let i = 1; i < 12; i += 1) members.push({ id: `n${i}`, address: `127.0.0.1:${40000 + i}`, zone: `z${i % 3}`, weight: 1 });
/** 2^16 partitions: about 4 MB of JSON, past what a JSON body of the node protocol may be. */
const large = (previous: Ring | null, epochMembers: RingNode[]): Ring => buildRing(previous, epochMembers, { replicas: 6, partitionBits: 16, seed: 3 });

/** A raw signed request to the node, as any node may send it; answers the status, headers and body bytes. */
async function raw(method: 'GET' | 'PUT' | 'POST', path: string, headers: Record<string, string>, body?: Buffer, audience = ANY_NODE): Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }> {
  const http = new Client(`http://${address}`);
  try {
    const signed = signRequest(SECRET, method, path, bodySha256(body), Date.now(), audience);
    const answer = await http.request({ method, path, headers: { ...headers, ...signed }, body: body ?? null });
    return { status: answer.statusCode, headers: answer.headers, body: Buffer.from(await answer.body.arrayBuffer()) };
  } finally {
    await http.close();
  }
}

t.test('a ring too large for a plain JSON body is pushed gzipped, adopted, and read back whole', async (t) => {
  const first = large(null, members);
  const text = serializeRing(first);
  t.ok(text.length > PLAIN_RING_MAX_BYTES, `the ring is ${text.length} bytes of JSON`);
  const offer = await encodeRingOffer(text);
  t.equal(offer.gzipped, true, 'it travels gzipped');
  t.ok(offer.body.length * 4 < text.length, `gzipped to ${offer.body.length} bytes`);
  const [pushed] = await pushRing(first, [{ id: 'n0', address, member: true }], { clusterSecret: SECRET, timeoutMs: 30_000 });
  t.equal(pushed?.outcome, 'adopted', pushed?.error ?? 'the node adopted it');
  t.equal(serializeRing(parseRing(await client.fetchRing())), text, 'the node hands back the same document');

  const second = large(first, members.slice(0, 11));
  const [again] = await pushRing(second, [{ id: 'n0', address, member: true }], { clusterSecret: SECRET, timeoutMs: 30_000 });
  t.equal(again?.outcome, 'adopted', again?.error ?? 'the node adopted the next epoch');
  t.equal(serializeRing(parseRing(await client.fetchPreviousRing())), text, 'the ring it replaced is read back whole as the previous one');
  const [repeat] = await pushRing(second, [{ id: 'n0', address, member: true }], { clusterSecret: SECRET, timeoutMs: 30_000 });
  t.equal(repeat?.outcome, 'current', 'pushing it again finds it held, through the gzipped read');
});

t.test('a ring is answered gzipped only to a client that accepts gzip', async (t) => {
  const held = serializeRing(parseRing(await client.fetchRing()));
  const plain = await raw('GET', NODE_PATHS.ring, {});
  t.equal(plain.status, 200);
  t.equal(plain.headers['content-encoding'], undefined, 'a client that does not ask gets plain JSON');
  t.equal(plain.body.toString('utf8'), held);
  const refused = await raw('GET', NODE_PATHS.ring, { 'accept-encoding': 'gzip;q=0, identity' });
  t.equal(refused.headers['content-encoding'], undefined, 'nor does one that refuses gzip');
  const gzipped = await raw('GET', NODE_PATHS.ring, { 'accept-encoding': 'br, gzip' });
  t.equal(gzipped.headers['content-encoding'], 'gzip');
  t.ok(gzipped.body.length * 4 < held.length, `${gzipped.body.length} bytes on the wire for ${held.length} of JSON`);
  t.equal((await gunzipAsync(gzipped.body)).toString('utf8'), held);
});

t.test('a small ring still travels as plain JSON, which nodes of every release take', async (t) => {
  const small = buildRing(null, members.slice(0, 6), { replicas: 6, partitionBits: 6, seed: 3 });
  const offer = await encodeRingOffer(serializeRing(small));
  t.equal(offer.gzipped, false);
  t.equal(typeof offer.body, 'string');
});

t.test('ring bodies that are not what they claim change nothing', async (t) => {
  const before = (await client.health()).ringEpoch;
  // The held ring as a newer epoch: a document the node would adopt, were it sent as it should be.
  const held = parseRing(await client.fetchRing());
  const bigger = serializeRing({ ...held, epoch: held.epoch + 1 });

  const notGzip = await raw('PUT', NODE_PATHS.ring, { 'content-type': 'application/json', 'content-encoding': 'gzip' }, Buffer.from(bigger));
  t.equal(notGzip.status, 400, 'a body that says gzip and is not is refused');
  t.match(JSON.parse(notGzip.body.toString('utf8')), { code: 'BadRequest', message: /not valid gzip/ });

  const brotli = await raw('PUT', NODE_PATHS.ring, { 'content-type': 'application/json', 'content-encoding': 'br' }, await gzipAsync(bigger));
  t.equal(brotli.status, 400, 'an encoding the node does not take is refused');

  // A few hundred kilobytes of gzip that would inflate past the limit (gzip members back to back, each
  // a MiB of spaces, inflate as one stream): inflating stops at the limit.
  const member = await gzipAsync(Buffer.alloc(1024 * 1024, 0x20), { level: 9 });
  const bomb = Buffer.concat(Array.from({ length: MAX_RING_DOCUMENT_BYTES / (1024 * 1024) + 1 }, () => member));
  t.ok(bomb.length < 2 * 1024 * 1024, `the bomb is ${bomb.length} bytes`);
  const bombed = await raw('PUT', NODE_PATHS.ring, { 'content-type': 'application/json', 'content-encoding': 'gzip' }, bomb);
  t.equal(bombed.status, 400);
  t.match(JSON.parse(bombed.body.toString('utf8')), { code: 'BadRequest', message: /inflates past/ });

  const forged = await gzipAsync(bigger);
  const http = new Client(`http://${address}`);
  t.teardown(() => http.close());
  // Signed for other bytes: the hash is checked on the gzip as sent, before anything is inflated.
  const signed = signRequest(SECRET, 'PUT', NODE_PATHS.ring, bodySha256('something else'), Date.now(), ANY_NODE);
  const answer = await http.request({ method: 'PUT', path: NODE_PATHS.ring, headers: { 'content-type': 'application/json', 'content-encoding': 'gzip', ...signed }, body: forged });
  await answer.body.dump();
  t.equal(answer.statusCode, 401, 'a gzip body signed for other bytes is refused');

  t.equal((await client.health()).ringEpoch, before, 'the node still holds the ring it had');
});

t.test('a gzipped body is refused on routes that take only plain JSON', async (t) => {
  const body = await gzipAsync(JSON.stringify({ calls: [] }));
  const answer = await raw('POST', NODE_PATHS.batch, { 'content-type': 'application/json', 'content-encoding': 'gzip' }, body, 'n0');
  t.equal(answer.status, 400);
  t.match(JSON.parse(answer.body.toString('utf8')), { code: 'BadRequest', message: /content-encoding/ });
});

t.test('a ring answer that inflates past the limit fails as the node\'s fault, and a plain one is still read', async (t) => {
  const member = await gzipAsync(Buffer.alloc(1024 * 1024, 0x20), { level: 9 });
  const bomb = Buffer.concat(Array.from({ length: MAX_RING_DOCUMENT_BYTES / (1024 * 1024) + 1 }, () => member));
  const held = serializeRing(parseRing(await client.fetchRing()));
  // A server that answers as a node of this release would (gzip, as asked) or of an earlier one (plain).
  const server = createServer((request, response) => {
    if (request.url === NODE_PATHS.ring) response.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' }).end(bomb);
    else response.writeHead(200, { 'content-type': 'application/json' }).end(held);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const fake = new NodeClient({ nodeId: 'fake', address: `127.0.0.1:${(server.address() as AddressInfo).port}`, clusterSecret: SECRET });
  t.teardown(async () => {
    await fake.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  await t.rejects(fake.fetchRing(), { code: 'Internal', message: /inflates past/ });
  t.equal(serializeRing(parseRing(await fake.fetchPreviousRing())), held, 'a plain answer, as an earlier release sends, is read as before');
});
