import { readFile, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { t } from 'tap';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { runClusterCli, runRingPush } from '../../src/bin/cluster-cli.js';
import { runConfigCli } from '../../src/bin/config-cli.js';
import { runHealthcheck } from '../../src/bin/healthcheck.js';
import { parseGatewayConfig, silentLogger } from '../../src/common/index.js';
import { GATEWAY_HEALTH_PATHS, Gateway } from '../../src/gateway/index.js';
import { buildRing, parseRing, serializeRing, type Ring, type RingNode } from '../../src/placement/index.js';
import { NodeClient } from '../../src/rpc/index.js';
import { StorageNode } from '../../src/storage-node/index.js';

/**
 * Bootstrap and ring distribution against real storage nodes in this process: `tessera cluster
 * init`, `tessera ring push`, `tessera config check`, and gateways that start from seed nodes and
 * follow the ring the nodes hold.
 */

const dir = await mkdtemp(join(tmpdir(), 'tessera-cluster-cli-'));
const nodes: StorageNode[] = [];
const members: RingNode[] = [];
const clients: NodeClient[] = [];
const SECRET_FILE = join(dir, 'secret');
const SECRET = 'cluster-cli-test-secret-0123456789';
await writeFile(SECRET_FILE, `${SECRET}\n`, { mode: 0o600 });
for (let i = 0; i < 7; i += 1) {
  const node = new StorageNode({ nodeId: `n${i}`, dataDir: join(dir, `n${i}`), host: '127.0.0.1', port: 0, clusterSecret: SECRET, logger: silentLogger() });
  const { port } = await node.start();
  nodes.push(node);
  members.push({ id: `n${i}`, address: `127.0.0.1:${port}`, zone: `z${i % 3}`, weight: 1 });
  clients.push(new NodeClient({ nodeId: `n${i}`, address: `127.0.0.1:${port}`, clusterSecret: SECRET }));
}
t.teardown(async () => {
  for (const client of clients) await client.close();
  for (const node of nodes) await node.close();
  await rm(dir, { recursive: true, force: true });
});

async function cli(run: (io: { stdout: (s: string) => void; stderr: (s: string) => void }) => Promise<number>): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await run({ stdout: (s) => (out += s), stderr: (s) => (err += s) });
  return { code, out, err };
}

const nodeSpecs = (list: readonly RingNode[]): string[] => list.flatMap((n) => ['--node', `${n.id}=${n.address},zone=${n.zone}`]);
const heldEpochs = async (): Promise<number[]> => Promise.all(clients.map(async (c) => (await c.health()).ringEpoch));

t.test('cluster init writes a secret, the first ring, an S3 key and a gateway config that config check accepts', async (t) => {
  const out = join(dir, 'init-a');
  const r = await cli((io) => runClusterCli(['init', '--out', out, '--partition-bits', '6', ...nodeSpecs(members.slice(0, 6))], io));
  t.equal(r.code, 0, r.err);
  t.match(r.out, /epoch 1, 64 partitions \(bits 6\), 6 replicas, 6 nodes in 3 zones/);
  t.match(r.out, /next: start the nodes, then: tessera ring push/);
  const secret = (await readFile(join(out, 'cluster-secret'), 'utf8')).trim();
  t.match(secret, /^[0-9a-f]{64}$/);
  t.equal((await stat(join(out, 'cluster-secret'))).mode & 0o777, 0o600, 'the secret is readable by its owner only');
  t.equal((await stat(join(out, 's3-credentials.json'))).mode & 0o777, 0o600);
  const ring = parseRing(await readFile(join(out, 'ring.json'), 'utf8'));
  t.equal(ring.epoch, 1);
  t.equal(ring.replicas, 6);
  const gateway = JSON.parse(await readFile(join(out, 'gateway.json'), 'utf8')) as { seeds: string[] };
  t.same(gateway.seeds, members.slice(0, 6).map((n) => n.address));
  const check = await cli((io) => runConfigCli(['check', join(out, 'gateway.json')], {}, io));
  t.equal(check.code, 0, check.err);
  t.match(check.out, /valid gateway configuration/);
  t.notMatch(check.out, secret, 'config check never prints the secret');
  const again = await cli((io) => runClusterCli(['init', '--out', out, ...nodeSpecs(members.slice(0, 6))], io));
  t.equal(again.code, 2, 'refuses to overwrite');
  t.match(again.err, /exists; pass --force/);
  const few = await cli((io) => runClusterCli(['init', '--out', join(dir, 'few'), ...nodeSpecs(members.slice(0, 3))], io));
  t.equal(few.code, 2);
  t.match(few.err, /at least 6 nodes for 4\+2/);
});

t.test('cluster init --push gives every node the ring; a rerun is harmless, a different ring is refused', async (t) => {
  const args = ['init', '--out', join(dir, 'init-b'), '--secret-file', SECRET_FILE, '--partition-bits', '6', '--push', ...nodeSpecs(members.slice(0, 6))];
  const first = await cli((io) => runClusterCli(args, io));
  t.equal(first.code, 0, first.err);
  t.equal(first.out.match(/adopted epoch 1/g)?.length, 6);
  t.same((await heldEpochs()).slice(0, 6), [1, 1, 1, 1, 1, 1]);
  const rerun = await cli((io) => runClusterCli([...args, '--force'], io));
  t.equal(rerun.code, 0, 'the same inputs build the same ring: a retried bootstrap job succeeds');
  t.equal(rerun.out.match(/already holds epoch 1/g)?.length, 6);
  const other = await cli((io) => runClusterCli([...args, '--force', '--seed', '7'], io));
  t.equal(other.code, 1);
  t.match(other.out, /holds a different ring of epoch 1/);
  t.match(other.err, /initialised before/);
});

let epoch1: Ring;
let epoch2: Ring;

t.test('a gateway started from seeds takes the newest epoch among the nodes and follows ring push', async (t) => {
  epoch1 = parseRing(await readFile(join(dir, 'init-b', 'ring.json'), 'utf8'));
  epoch2 = buildRing(epoch1, members, { replicas: 6, partitionBits: 6, seed: 0 });
  // Only one node has seen epoch 2: the gateway must still find it.
  t.same(await clients[2]!.offerRing(JSON.parse(serializeRing(epoch2))), { adopted: true, epoch: 2 });
  const config = parseGatewayConfig({
    listen: '127.0.0.1:0',
    credentials: [{ accessKeyId: 'seed-key', secretAccessKey: 'seed-secret' }],
    clusterSecretFile: SECRET_FILE,
    seeds: members.slice(0, 3).map((n) => n.address),
    ringPollMs: 200,
  });
  const gateway = new Gateway({ config, logger: silentLogger() });
  const { port } = await gateway.start();
  const s3 = new S3Client({ endpoint: `http://127.0.0.1:${port}`, region: 'us-east-1', forcePathStyle: true, credentials: config.credentials[0]! });
  t.teardown(async () => {
    s3.destroy();
    await gateway.close();
  });
  t.equal(gateway.ring.epoch, 2, 'newest epoch among the answers');
  await s3.send(new CreateBucketCommand({ Bucket: 'seeded' }));
  await s3.send(new PutObjectCommand({ Bucket: 'seeded', Key: 'k', Body: 'seeded body' }));
  t.equal(await (await s3.send(new GetObjectCommand({ Bucket: 'seeded', Key: 'k' }))).Body!.transformToString(), 'seeded body');

  const ready = await fetch(`http://127.0.0.1:${port}${GATEWAY_HEALTH_PATHS.ready}`);
  t.equal(ready.status, 200);
  t.match(await ready.json(), { status: 'ok', ready: true, ringEpoch: 2, ringNodes: 7 });
  const live = await fetch(`http://127.0.0.1:${port}${GATEWAY_HEALTH_PATHS.live}`, { method: 'HEAD' });
  t.equal(live.status, 200);
  const health = await cli((io) => runHealthcheck([], { TESSERA_LISTEN: `127.0.0.1:${port}` }, io));
  t.equal(health.code, 0, health.err);

  // Epoch 3 drops n6: push reaches every member and tells n6, which only the old ring names.
  const epoch3 = buildRing(epoch2, members.slice(0, 6), { replicas: 6, partitionBits: 6, seed: 0 });
  const ringFile = join(dir, 'ring-3.json');
  await writeFile(ringFile, serializeRing(epoch3));
  const gatewayFile = join(dir, 'gw.json');
  await writeFile(gatewayFile, JSON.stringify({ credentials: [{ accessKeyId: 'a', secretAccessKey: 'b' }], clusterSecretFile: SECRET_FILE, seeds: [members[0]!.address] }));
  const push = await cli((io) => runRingPush([ringFile, '--config', gatewayFile], {}, io));
  t.equal(push.code, 0, push.err);
  t.equal(push.out.match(/adopted epoch 3/g)?.length, 7, push.out);
  t.match(push.out, /n6 \(127\.0\.0\.1:\d+\) \[not in this ring\]: adopted epoch 3/);
  t.same(await heldEpochs(), [3, 3, 3, 3, 3, 3, 3]);
  const deadline = Date.now() + 5_000;
  while (gateway.ring.epoch < 3 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  t.equal(gateway.ring.epoch, 3, 'the gateway found epoch 3 by polling');
  t.equal(await (await s3.send(new GetObjectCommand({ Bucket: 'seeded', Key: 'k' }))).Body!.transformToString(), 'seeded body');

  const stale = await cli((io) => runRingPush([join(dir, 'init-b', 'ring.json'), '--secret-file', SECRET_FILE], {}, io));
  t.equal(stale.code, 1, 'pushing an older epoch changes nothing and says so');
  t.match(stale.out, /holds a newer epoch 3; kept it/);
  const wrongSecret = join(dir, 'wrong');
  await writeFile(wrongSecret, 'not-the-cluster-secret-at-all', { mode: 0o600 });
  const refused = await cli((io) => runRingPush([ringFile, '--secret-file', wrongSecret, '--timeout-ms', '2000'], {}, io));
  t.equal(refused.code, 1);
  t.match(refused.out, /failed: .*signature/);
});

t.test('a gateway whose seeds hold no ring waits for one instead of serving without it', async (t) => {
  const fresh = new StorageNode({ nodeId: 'fresh', dataDir: join(dir, 'fresh'), host: '127.0.0.1', port: 0, clusterSecret: SECRET, logger: silentLogger() });
  const { port } = await fresh.start();
  t.teardown(() => fresh.close());
  const config = parseGatewayConfig({
    listen: '127.0.0.1:0',
    credentials: [{ accessKeyId: 'a', secretAccessKey: 'b' }],
    clusterSecret: SECRET,
    seeds: [`127.0.0.1:${port}`],
    ringPollMs: 100,
  });
  const gateway = new Gateway({ config, logger: silentLogger() });
  t.teardown(() => gateway.close());
  let started = false;
  const starting = gateway.start().then(() => {
    started = true;
  });
  await new Promise((resolve) => setTimeout(resolve, 400));
  t.notOk(started, 'still waiting');
  const client = new NodeClient({ nodeId: 'fresh', address: `127.0.0.1:${port}`, clusterSecret: SECRET });
  t.teardown(() => client.close());
  await client.offerRing(JSON.parse(serializeRing(epoch2)));
  await starting;
  t.equal(gateway.ring.epoch, 2);
});

t.test('config check names the bad key and exits 1; node files are recognised', async (t) => {
  const bad = join(dir, 'bad.json');
  await writeFile(bad, JSON.stringify({ seeds: ['a:1'], clusterSecret: SECRET, credentials: [{ accessKeyId: 'a', secretAccessKey: 'b' }], erasure: { parityShard: 2 } }));
  const r = await cli((io) => runConfigCli(['check', bad], {}, io));
  t.equal(r.code, 1);
  t.match(r.err, /bad\.json: unknown configuration key erasure\.parityShard/);
  const node = join(dir, 'node.json');
  await writeFile(node, JSON.stringify({ nodeId: 'n9', dataDir: 'n9', listen: '0.0.0.0:9100', clusterSecretFile: 'secret' }));
  const ok = await cli((io) => runConfigCli(['check', node], {}, io));
  t.equal(ok.code, 0, ok.err);
  t.match(ok.out, /valid node configuration/);
  t.match(ok.out, new RegExp(`"dataDir": "${join(dir, 'n9')}"`), 'relative to the file');
  const env = await cli((io) => runConfigCli(['check', node], { TESSERA_RESERVE_BYTES: 'lots' }, io));
  t.equal(env.code, 1);
  t.match(env.err, /TESSERA_RESERVE_BYTES must be an integer/);
  const tls = join(dir, 'tls.json');
  await writeFile(tls, JSON.stringify({ seeds: ['a:1'], clusterSecret: SECRET, credentials: [{ accessKeyId: 'a', secretAccessKey: 'b' }], tls: { certFile: 'missing.pem', keyFile: 'missing.key' } }));
  const tlsCheck = await cli((io) => runConfigCli(['check', tls], {}, io));
  t.equal(tlsCheck.code, 1);
  t.match(tlsCheck.err, /tls: .*missing\.pem/);
});
