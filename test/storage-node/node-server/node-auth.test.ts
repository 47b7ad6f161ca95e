import { createHmac } from 'node:crypto';
import { mkdir, readdir } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { t } from 'tap';
import { Client } from 'undici';
import { silentLogger } from '../../../src/common/index.js';
import { ANY_NODE, MAX_SIGNATURE_SKEW_MS, NODE_HEADER, NODE_PATHS, NodeClient, UNSIGNED_BODY, bodySha256, signRequest } from '../../../src/rpc/index.js';
import { NodeServer, RingStore, StorageNode, loadBlockHasher, ShardStore } from '../../../src/storage-node/index.js';
import { collect, seededBytes } from '../../helpers/bytes.js';
import { recordFor, tempDir } from '../store-fixture.js';

const SECRET = 'node-auth-test-secret';
const ERASURE = { dataShards: 4, parityShards: 2, blockSizeBytes: 65536 };
const NOW = 1_800_000_000_000;

/** A node server in front of a store and ring store whose every method call is recorded, on a fixed clock. */
async function spiedNode(t: { teardown(fn: () => Promise<void>): void }): Promise<{ port: number; touched: string[]; dataDir: string }> {
  const dataDir = await tempDir(t, 'node-auth');
  const store = new ShardStore({ dataDir, hash: await loadBlockHasher(), logger: silentLogger() });
  await store.open();
  const rings = new RingStore(dataDir);
  await rings.open();
  const touched: string[] = [];
  const spy = <T extends object>(target: T, name: string): T =>
    new Proxy(target, {
      get(object, property, receiver) {
        touched.push(`${name}.${String(property)}`);
        const value: unknown = Reflect.get(object, property, receiver);
        return typeof value === 'function' ? value.bind(object) : value;
      },
    });
  const server = new NodeServer({ nodeId: 'n0', store: spy(store, 'store'), rings: spy(rings, 'rings'), clusterSecret: SECRET, logger: silentLogger(), clock: () => NOW });
  const { port } = await server.listen('127.0.0.1', 0);
  t.teardown(async () => {
    await server.close();
    await store.close();
  });
  return { port, touched, dataDir };
}

/** Sends the request target byte for byte (a URL parser would normalise `..` and percent escapes away). */
async function send(port: number, method: string, path: string, headers: Record<string, string>, body?: Buffer | string): Promise<number> {
  const client = new Client(`http://127.0.0.1:${port}`);
  try {
    const response = await client.request({ path, method: method as 'GET', headers, body: body ?? null });
    await response.body.dump();
    return response.statusCode;
  } finally {
    await client.close();
  }
}

const shardQuery = 'bucket=b&key=k&version=0000000000010000aaaaaaaa&shard=0';
const commitBody = JSON.stringify({ record: recordFor({ bucket: 'b', key: 'k', versionId: '0000000000010000aaaaaaaa', shardIndex: 0 }, 4), shardIndex: 0 });
const ROUTES: { method: string; url: string; body?: string | Buffer }[] = [
  { method: 'PUT', url: `${NODE_PATHS.shards}?${shardQuery}&k=4&m=2&block=65536`, body: Buffer.alloc(1000, 7) },
  { method: 'GET', url: `${NODE_PATHS.shards}?${shardQuery}&offset=0&length=10` },
  { method: 'POST', url: NODE_PATHS.commit, body: commitBody },
  { method: 'POST', url: NODE_PATHS.batch, body: JSON.stringify({ calls: [{ op: 'commit', request: JSON.parse(commitBody) }, { op: 'status', bucket: 'b', key: 'k', withInlineShard: true }] }) },
  { method: 'POST', url: NODE_PATHS.abort, body: JSON.stringify({ bucket: 'b', key: 'k', versionId: '0000000000010000aaaaaaaa', shardIndex: 0 }) },
  { method: 'GET', url: `${NODE_PATHS.objects}?bucket=b&key=k` },
  { method: 'GET', url: `${NODE_PATHS.list}?bucket=b&prefix=&after=&afterIsPrefix=0&limit=10` },
  { method: 'PUT', url: NODE_PATHS.buckets, body: JSON.stringify({ name: 'b', versionId: '0000000000010000aaaaaaaa', createdMs: 1, deleted: false }) },
  { method: 'GET', url: NODE_PATHS.buckets },
  { method: 'POST', url: NODE_PATHS.tags, body: JSON.stringify({ bucket: 'b', key: 'k', versionId: '0000000000010000aaaaaaaa', tags: {}, tagsRevision: '0000000000010000aaaaaaaa' }) },
  { method: 'PUT', url: NODE_PATHS.ring, body: '{}' },
  { method: 'GET', url: NODE_PATHS.ring },
  { method: 'POST', url: NODE_PATHS.changesDone, body: JSON.stringify({ ids: ['0123456789abcdef0123456789abcdef'] }) },
  { method: 'POST', url: NODE_PATHS.replicationStatus, body: JSON.stringify({ bucket: 'b', key: 'k', versionId: '0000000000010000aaaaaaaa', status: 'COMPLETED' }) },
  {
    method: 'POST',
    url: NODE_PATHS.changeOffer,
    body: JSON.stringify({
      changes: [
        {
          bucket: 'b',
          key: 'k',
          note: {
            id: '0123456789abcdef0123456789abcdef',
            eventName: 's3:ObjectCreated:Put',
            timeMs: 1,
            orderId: '0000000000010000aaaaaaaa',
            bucketOwnerId: 'o',
            principalId: 'p',
            sourceIp: '127.0.0.1',
            requestId: 'r',
            hostId: 'h',
            destinations: [{ configurationId: 'c', arn: 'arn:tessera:sqs::t:webhook' }],
          },
        },
      ],
    }),
  },
];

/** The headers without the node they were signed for. */
function withoutNode(headers: Record<string, string>): Record<string, string> {
  const { [NODE_HEADER]: _node, ...rest } = headers;
  return rest;
}

/** A signature as peers that predate the node header make it: method, target, time and body hash only. */
function legacySignature(method: string, url: string, bodyHash: string, nowMs: number): Record<string, string> {
  const signature = createHmac('sha256', SECRET).update(`TESSERA-HMAC-SHA256\n${method}\n${url}\n${nowMs}\n${bodyHash}`).digest('hex');
  return { 'x-tessera-date': String(nowMs), 'x-tessera-body-sha256': bodyHash, 'x-tessera-signature': signature };
}

function hashOf(route: { method: string; body?: string | Buffer }): string {
  if (route.method === 'PUT' && Buffer.isBuffer(route.body)) return UNSIGNED_BODY;
  return bodySha256(route.body);
}

t.test('every route answers 401 to missing, wrong, stale, future and misapplied signatures without touching store or ring', async (t) => {
  const { port, touched, dataDir } = await spiedNode(t);
  const before = await readdir(dataDir, { recursive: true });
  for (const route of ROUTES) {
    const hash = hashOf(route);
    const cases: [string, Record<string, string>][] = [
      ['no signature', {}],
      ['wrong secret', signRequest('another-secret', route.method, route.url, hash, NOW, 'n0')],
      ['stale by more than five minutes', signRequest(SECRET, route.method, route.url, hash, NOW - MAX_SIGNATURE_SKEW_MS - 1, 'n0')],
      ['from more than five minutes in the future', signRequest(SECRET, route.method, route.url, hash, NOW + MAX_SIGNATURE_SKEW_MS + 1, 'n0')],
      ['signed for another URL', signRequest(SECRET, route.method, `${route.url}${route.url.includes('?') ? '&' : '?'}x=1`, hash, NOW, 'n0')],
      ['signed for another method', signRequest(SECRET, route.method === 'GET' ? 'DELETE' : 'GET', route.url, hash, NOW, 'n0')],
      ['unreadable date', { ...signRequest(SECRET, route.method, route.url, hash, NOW, 'n0'), 'x-tessera-date': 'soon' }],
      ['signed for another node', signRequest(SECRET, route.method, route.url, hash, NOW, 'n1')],
      ['signed for another node, then addressed to this one', { ...signRequest(SECRET, route.method, route.url, hash, NOW, 'n1'), 'x-tessera-node': 'n0' }],
      ['signed for another node, its node header removed', withoutNode(signRequest(SECRET, route.method, route.url, hash, NOW, 'n1'))],
    ];
    // A request for any node reaches rings (a seed asked before its id is known), and nothing else.
    if (route.url !== NODE_PATHS.ring) cases.push(['signed for any node', signRequest(SECRET, route.method, route.url, hash, NOW, ANY_NODE)]);
    for (const [name, headers] of cases) {
      t.equal(await send(port, route.method, route.url, headers, route.body), 401, `${route.method} ${route.url.split('?')[0]}: ${name}`);
    }
  }
  t.same(touched, [], 'no store or ring method or field was reached');
  t.same(await readdir(dataDir, { recursive: true }), before, 'no file was created or removed');
});

t.test('a JSON body that does not match its signed hash is refused before it is used', async (t) => {
  const { port, touched } = await spiedNode(t);
  const body = JSON.stringify({ name: 'bucket-a', versionId: '0000000000010000aaaaaaaa', createdMs: 1, deleted: false });
  t.equal(await send(port, 'PUT', NODE_PATHS.buckets, signRequest(SECRET, 'PUT', NODE_PATHS.buckets, bodySha256('{}'), NOW, 'n0'), body), 401);
  t.equal(await send(port, 'PUT', NODE_PATHS.buckets, signRequest(SECRET, 'PUT', NODE_PATHS.buckets, UNSIGNED_BODY, NOW, 'n0'), body), 401, 'unsigned-shard is only for shard bodies');
  t.same(touched, []);
});

t.test('a request signed for any node reads and offers rings; one signed as older peers sign, without a node, is still served', async (t) => {
  const { port } = await spiedNode(t);
  const empty = bodySha256(undefined);
  for (const path of [NODE_PATHS.ring, NODE_PATHS.previousRing]) {
    // No ring is held yet: 404 is the node's answer after authentication, 401 would be before it.
    t.equal(await send(port, 'GET', path, signRequest(SECRET, 'GET', path, empty, NOW, ANY_NODE)), 404, `GET ${path} for any node`);
  }
  const offer = await send(port, 'PUT', NODE_PATHS.ring, signRequest(SECRET, 'PUT', NODE_PATHS.ring, bodySha256('{}'), NOW, ANY_NODE), '{}');
  t.not(offer, 401, `PUT ${NODE_PATHS.ring} for any node is authenticated (then judged on its document: ${offer})`);
  t.equal(await send(port, 'GET', NODE_PATHS.buckets, signRequest(SECRET, 'GET', NODE_PATHS.buckets, empty, NOW, 'n0')), 200, 'signed for this node');
  t.equal(await send(port, 'GET', NODE_PATHS.buckets, legacySignature('GET', NODE_PATHS.buckets, empty, NOW)), 200, 'signed without a node');
});

t.test('signatures exactly five minutes old or ahead are still accepted', async (t) => {
  const { port } = await spiedNode(t);
  for (const skew of [-MAX_SIGNATURE_SKEW_MS, 0, MAX_SIGNATURE_SKEW_MS]) {
    t.equal(await send(port, 'GET', NODE_PATHS.buckets, signRequest(SECRET, 'GET', NODE_PATHS.buckets, bodySha256(undefined), NOW + skew, 'n0')), 200, `skew ${skew} ms`);
  }
});

t.test('signed request paths with .., absolute, NUL and percent-encoded variants reach no route and no file', async (t) => {
  const { port, touched, dataDir } = await spiedNode(t);
  const before = await readdir(dataDir, { recursive: true });
  const paths = [
    '/v1/shards/../../../etc/passwd',
    '/v1/../v1/buckets/../../etc/passwd',
    '/../../etc/passwd',
    '//etc/passwd',
    '/v1/shards/%2e%2e/%2e%2e/etc/passwd',
    '/%2e%2e/%2e%2e/etc/passwd',
    '/v1%2fshards',
    '/v1/shards%2F..%2F..%2Fetc%2Fpasswd',
    '/v1/shards/%252e%252e%252fetc%252fpasswd',
    '/v1/shards%00',
    '/v1/shards/%00/../x',
    '/v1/%c0%ae%c0%ae/etc/passwd',
    '/health/../v1/buckets',
  ];
  for (const path of paths) {
    for (const method of ['GET', 'PUT']) {
      const hash = method === 'PUT' ? UNSIGNED_BODY : bodySha256(undefined);
      const status = await send(port, method, path, signRequest(SECRET, method, path, hash, NOW, 'n0'), method === 'PUT' ? 'x' : undefined);
      t.ok(status === 404 || status === 400, `${method} ${path} -> ${status}`);
    }
  }
  t.same(touched, [], 'no route handler ran');
  t.same(await readdir(dataDir, { recursive: true }), before);
});

t.test('hostile bucket and key names are data, never paths: they round-trip and every file stays in the node’s folders', async (t) => {
  const root = await tempDir(t, 'node-escape');
  const dataDir = join(root, 'node');
  await mkdir(join(root, 'sentinel'));
  // Each name stored inline (50 B), in a segment (500 B) and in a file (5,000 B).
  const node = new StorageNode({ nodeId: 'n0', dataDir, host: '127.0.0.1', port: 0, clusterSecret: SECRET, logger: silentLogger(), inlineMaxShardBytes: 100, segmentMaxShardBytes: 1000 });
  const { port } = await node.start();
  t.teardown(() => node.close());
  const client = new NodeClient({ nodeId: 'n0', address: `127.0.0.1:${port}`, clusterSecret: SECRET });
  t.teardown(() => client.close());
  const names = [
    ['..', '../../../../etc/passwd'],
    ['.', '/etc/passwd'],
    ['/', '..%2F..%2Fsentinel%2Fx'],
    ['%2e%2e', '%2e%2e%2f%2e%2e%2fsentinel'],
    ['b', '%00'],
    ['b', '%252e%252e%252f'],
    ['b', 'a/../../b'],
    ['b', '..\\..\\windows\\system32'],
    ['b', '\u002e\u002e\u2215\u002e\u002e\u2215x'],
    ['b', '\uff0e\uff0e/\uff0e\uff0e/x'],
  ] as const;
  for (const [i, [bucket, key]] of names.entries()) {
    for (const size of [50, 500, 5000]) {
      const ref = { bucket, key: `${key}-${size}`, versionId: `00000000000${i.toString(16)}0000aaaaaaaa`, shardIndex: 0 };
      await client.putShard(ref, ERASURE, Readable.from([seededBytes(size, i)]));
      await client.commit({ record: { ...recordFor(ref, size * 4) }, shardIndex: 0 });
      const body = await collect(await client.readShard(ref, 0, size));
      t.ok(body.equals(seededBytes(size, i)), `${JSON.stringify(bucket)} / ${JSON.stringify(ref.key)} round-trips`);
    }
  }
  for (const bad of [{ bucket: 'b', key: 'nul\0key' }, { bucket: 'b\0x', key: 'k' }]) {
    const ref = { ...bad, versionId: '0000000000020000aaaaaaaa', shardIndex: 0 };
    await t.rejects(client.putShard(ref, ERASURE, Readable.from([Buffer.from('x')])), { code: 'BadRequest' }, `NUL in ${JSON.stringify(bad)} refused on PUT`);
    await t.rejects(client.commit({ record: recordFor(ref, 4), shardIndex: 0 }), { code: 'BadRequest' }, 'and on commit');
    await t.rejects(client.abort(ref), { code: 'BadRequest' }, 'and on abort');
  }
  await t.rejects(client.putBucket({ name: 'x\0y', versionId: '0000000000020000aaaaaaaa', createdMs: 0, deleted: false }), { code: 'BadRequest' });
  t.same((await readdir(root)).sort(), ['node', 'sentinel'], 'nothing appeared beside the data directory');
  t.same(await readdir(join(root, 'sentinel')), []);
  t.same((await readdir(dataDir)).sort(), ['meta', 'segments', 'shards', 'tmp']);
  for (const entry of await readdir(join(dataDir, 'shards'), { recursive: true })) {
    t.match(entry, /^[0-9a-f]{2}(\/[0-9a-f]{40})?$/, `shards/${entry} is a hashed name`);
  }
  for (const entry of await readdir(join(dataDir, 'segments'), { recursive: true })) {
    t.match(entry, /^[0-9a-f]{16}$/, `segments/${entry} is a segment number`);
  }
});

t.test('the node listens on the configured address only', async (t) => {
  const dataDir = await tempDir(t, 'node-bind');
  const node = new StorageNode({ nodeId: 'n0', dataDir, host: '127.0.0.1', port: 0, clusterSecret: SECRET, logger: silentLogger() });
  const { host, port } = await node.start();
  t.teardown(() => node.close());
  t.equal(host, '127.0.0.1');
  const reaches = (address: string): Promise<boolean> =>
    new Promise((resolve) => {
      const socket = connect({ host: address, port });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
  t.equal(await reaches('127.0.0.1'), true);
  t.equal(await reaches('127.0.0.2'), false, 'another loopback address of the same machine is refused');
});
