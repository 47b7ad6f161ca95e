import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { t } from 'tap';
import {
  CreateBucketCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { DEFAULTS } from '../../src/common/index.js';
import { GATEWAY_HEALTH_PATHS } from '../../src/gateway/index.js';
import { READ_DEADLINE_MS } from '../../src/gateway/data-path/index.js';
import { NODE_PATHS, NodeClient } from '../../src/rpc/index.js';
import { TestNetwork, multihostUnavailable, removeStaleNetworks, type HostProcess } from './netns.js';
import { REPO_ROOT, tesseraArgs } from '../helpers/tree.js';

/**
 * Six storage node hosts (zones a, b, c) and two gateway hosts, each a network namespace with its
 * own address and a veth link to one bridge, each role its own `tessera` process inside its
 * namespace, bootstrapped with `tessera cluster init --push` and gateways that start from seeds.
 * Clients in the root namespace drive both gateways. Then node hosts lose their links: one, then
 * two (a whole zone), then three.
 */


const NODE_PORT = Number(DEFAULTS.nodeListen.split(':')[1]);
const GATEWAY_PORT = Number(DEFAULTS.gatewayListen.split(':')[1]);
/** Node timeouts of the gateways: a cut link makes requests hang, so these bound how long a degraded request waits. */
const METADATA_TIMEOUT_MS = 2_000;
const STALL_TIMEOUT_MS = 3_000;
/** Longest a request may take while at most m nodes are cut. */
const DEGRADED_BOUND_MS = 20_000;
/**
 * Longest an S3 error may take with three cut: a cut link looks like a slow node, and a read whose
 * rounds run out of time is asked again until its read deadline before it answers 503.
 */
const FAILURE_BOUND_MS = READ_DEADLINE_MS + 10_000;

interface Stored {
  key: string;
  sizeBytes: number;
  sha256: string;
}

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

async function multihost(): Promise<void> {
  const started = Date.now();
  const stale = removeStaleNetworks();
  if (stale.length > 0) t.comment(`removed namespaces left by earlier runs: ${stale.join(', ')}`);
  const nodeNames = ['n0', 'n1', 'n2', 'n3', 'n4', 'n5'];
  const zones = ['a', 'b', 'c', 'a', 'b', 'c'];
  const net = await TestNetwork.create([...nodeNames, 'gw0', 'gw1']);
  const dir = await mkdtemp(join(tmpdir(), 'tessera-multihost-'));
  const processes: HostProcess[] = [];
  const clients: S3Client[] = [];
  t.teardown(async () => {
    for (const client of clients) client.destroy();
    if (!t.passing()) for (const p of processes) t.comment(`--- ${p.host.name} (pid ${p.pid}) output tail ---\n${p.output().split('\n').slice(-30).join('\n')}`);
    await net.destroy();
    await rm(dir, { recursive: true, force: true });
  });
  t.comment(`test network ${net.subnet}.0/24 (run ${net.runId})`);

  const addressOf = (name: string): string => `${net.host(name).ip}:${NODE_PORT}`;
  const clusterDir = join(dir, 'cluster');
  const logEnv = { TESSERA_LOG_LEVEL: 'warn' };
  let credential = { accessKeyId: '', secretAccessKey: '' };

  await t.test('bootstrap: six node processes, cluster init --push, two gateways from seeds', async (t) => {
    // Init first without --push: it makes the secret the nodes need.
    const specs = nodeNames.flatMap((name, i) => ['--node', `${name}=${addressOf(name)},zone=${zones[i]}`]);
    await tessera(['cluster', 'init', '--out', clusterDir, '--partition-bits', '8', ...specs]);
    for (const name of nodeNames) {
      const configPath = join(dir, `${name}.json`);
      await writeFile(configPath, JSON.stringify({ nodeId: name, dataDir: join(dir, 'data', name), listen: `${net.host(name).ip}:${NODE_PORT}`, clusterSecretFile: join(clusterDir, 'cluster-secret') }));
      processes.push(net.startTessera(name, ['node', '--config', configPath], logEnv));
    }
    await Promise.all(nodeNames.map((name) => waitFor(`node ${name}`, `http://${addressOf(name)}${NODE_PATHS.health}`, processes)));
    const push = await tessera(['ring', 'push', join(clusterDir, 'ring.json'), '--config', join(clusterDir, 'gateway.json')]);
    t.equal(push.match(/adopted epoch 1/g)?.length, 6, push);
    for (const name of ['gw0', 'gw1']) {
      processes.push(
        net.startTessera(name, ['gateway', '--config', join(clusterDir, 'gateway.json')], {
          ...logEnv,
          TESSERA_LISTEN: `${net.host(name).ip}:${GATEWAY_PORT}`,
          TESSERA_METADATA_TIMEOUT_MS: String(METADATA_TIMEOUT_MS),
          TESSERA_STALL_TIMEOUT_MS: String(STALL_TIMEOUT_MS),
          TESSERA_RING_POLL_MS: '1000',
        }),
      );
    }
    for (const name of ['gw0', 'gw1']) {
      const health = await waitFor(`gateway ${name}`, `http://${net.host(name).ip}:${GATEWAY_PORT}${GATEWAY_HEALTH_PATHS.ready}`, processes);
      t.match(JSON.parse(health), { ready: true, ringEpoch: 1, ringNodes: 6 }, `${name} fetched the ring from its seeds`);
    }
    [credential] = JSON.parse(await readFile(join(clusterDir, 's3-credentials.json'), 'utf8')) as [{ accessKeyId: string; secretAccessKey: string }];
    t.comment(`bootstrap took ${Date.now() - started} ms`);
  });
  if (!t.passing()) return;

  // No await between subtests from here on: tap ends an idle root test, and an await would leave it idle.
  const s3 = ['gw0', 'gw1'].map((name) => {
    const client = new S3Client({
      endpoint: `http://${net.host(name).ip}:${GATEWAY_PORT}`,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: async () => credential,
      // Every request must succeed (or fail) on its own: no SDK retries hide a slow or failed attempt.
      maxAttempts: 1,
      requestHandler: { requestTimeout: 60_000, connectionTimeout: 5_000 },
    });
    clients.push(client);
    return client;
  }) as [S3Client, S3Client];
  const bucket = 'multihost';
  const stored = new Map<string, Stored>();
  const timings: string[] = [];

  const put = async (via: number, key: string, sizeBytes: number): Promise<number> => {
    const body = randomBytes(sizeBytes);
    const t0 = Date.now();
    await s3[via]!.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
    stored.set(key, { key, sizeBytes, sha256: sha256(body) });
    return Date.now() - t0;
  };
  const get = async (via: number, key: string): Promise<number> => {
    const expected = stored.get(key)!;
    const t0 = Date.now();
    const answer = await s3[via]!.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const hash = createHash('sha256');
    let sizeBytes = 0;
    for await (const chunk of answer.Body as AsyncIterable<Uint8Array>) {
      hash.update(chunk);
      sizeBytes += chunk.length;
    }
    if (sizeBytes !== expected.sizeBytes || hash.digest('hex') !== expected.sha256) throw new Error(`${key} via gw${via}: bytes differ (${sizeBytes} of ${expected.sizeBytes})`);
    return Date.now() - t0;
  };
  const list = async (via: number, pageKeys = 1000): Promise<{ keys: string[]; ms: number }> => {
    const t0 = Date.now();
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await s3[via]!.send(new ListObjectsV2Command({ Bucket: bucket, MaxKeys: pageKeys, ...(token === undefined ? {} : { ContinuationToken: token }) }));
      for (const entry of page.Contents ?? []) keys.push(entry.Key!);
      token = page.NextContinuationToken;
    } while (token !== undefined);
    return { keys, ms: Date.now() - t0 };
  };

  await t.test('PUT, GET and LIST through both gateways, objects up to 64 MiB, byte-verified', async (t) => {
    await s3[0].send(new CreateBucketCommand({ Bucket: bucket }));
    const sizes = [0, 1, 100_000, 1024 * 1024 + 1, 8 * 1024 * 1024 + 3, 64 * 1024 * 1024];
    for (const [i, size] of sizes.entries()) {
      const key = `healthy/${String(i).padStart(2, '0')}-${size}`;
      const putMs = await put(i % 2, key, size);
      const getMs = await get((i + 1) % 2, key);
      timings.push(`healthy ${size} B: PUT ${putMs} ms, GET ${getMs} ms (other gateway)`);
    }
    for (const via of [0, 1]) t.same((await list(via, 2)).keys, [...stored.keys()].sort(), `gw${via} lists every object, two keys per page`);
    t.pass('every object read back byte-identical through the other gateway');
  });

  const degraded = async (t: Tap, label: string, cut: readonly string[]): Promise<void> => {
    for (const name of cut) await net.cut(name);
    try {
      let slowest = 0;
      const note = (what: string, ms: number): void => {
        slowest = Math.max(slowest, ms);
        timings.push(`${label}: ${what} ${ms} ms`);
      };
      // Both gateways at once, as behind a load balancer.
      await Promise.all(
        [0, 1].map(async (via) => {
          note(`PUT 1 MiB via gw${via}`, await put(via, `${label}/small-gw${via}`, 1024 * 1024));
          note(`PUT 8 MiB via gw${via}`, await put(via, `${label}/large-gw${via}`, 8 * 1024 * 1024 + 5));
        }),
      );
      await Promise.all(
        [0, 1].map(async (via) => {
          note(`GET 1 MiB (written cut) via gw${via}`, await get(via, `${label}/small-gw${1 - via}`));
          note(`GET 8 MiB (written cut) via gw${via}`, await get(via, `${label}/large-gw${1 - via}`));
        }),
      );
      await Promise.all([
        get(0, `healthy/05-${64 * 1024 * 1024}`).then((ms) => note('GET 64 MiB (written healthy) via gw0', ms)),
        get(1, `healthy/03-${1024 * 1024 + 1}`).then((ms) => note('GET 1 MiB (written healthy) via gw1', ms)),
      ]);
      const listed = await Promise.all([list(0), list(1)]);
      for (const [via, { keys, ms }] of listed.entries()) {
        note(`LIST via gw${via}`, ms);
        t.same(keys, [...stored.keys()].sort(), `gw${via} lists every object with ${cut.join(', ')} cut off`);
      }
      t.ok(slowest < DEGRADED_BOUND_MS, `slowest request ${slowest} ms < ${DEGRADED_BOUND_MS} ms`);
    } finally {
      for (const name of cut) await net.restore(name);
    }
  };

  await t.test('one node host cut off: reads and writes keep succeeding', (t) => degraded(t, 'cut-1', ['n0']));
  await t.test('two node hosts cut off (zone a): reads and writes keep succeeding', (t) => degraded(t, 'cut-2', ['n0', 'n3']));

  await t.test('three node hosts cut off: requests fail with an S3 error within a bounded time', async (t) => {
    for (const name of ['n0', 'n1', 'n2']) await net.cut(name);
    try {
      const attempts: [string, () => Promise<unknown>][] = [
        ['PUT via gw0', () => s3[0].send(new PutObjectCommand({ Bucket: bucket, Key: 'cut-3/never', Body: randomBytes(300_000) }))],
        ['GET via gw1', () => s3[1].send(new GetObjectCommand({ Bucket: bucket, Key: `healthy/03-${1024 * 1024 + 1}` })).then((r) => (r.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray())],
        ['LIST via gw0', () => s3[0].send(new ListObjectsV2Command({ Bucket: bucket }))],
      ];
      for (const [what, attempt] of attempts) {
        const t0 = Date.now();
        const err = await attempt().then(() => undefined, (e: unknown) => e);
        const ms = Date.now() - t0;
        timings.push(`cut-3: ${what} failed after ${ms} ms`);
        t.ok(err instanceof S3ServiceException, `${what} fails with an S3 error (${err instanceof S3ServiceException ? `${err.name} ${err.$metadata.httpStatusCode}` : String(err)})`);
        if (err instanceof S3ServiceException) t.ok((err.$metadata.httpStatusCode ?? 0) >= 500, `${what}: a server-side status`);
        t.ok(ms < FAILURE_BOUND_MS, `${what} answered in ${ms} ms < ${FAILURE_BOUND_MS} ms`);
      }
    } finally {
      for (const name of ['n0', 'n1', 'n2']) await net.restore(name);
    }
  });

  await t.test('links back: everything acknowledged reads back through both gateways, and writes work', async (t) => {
    await Promise.all(nodeNames.map((name) => waitFor(`node ${name}`, `http://${addressOf(name)}${NODE_PATHS.health}`, processes)));
    for (const { key } of stored.values()) {
      if (key.startsWith('healthy/05')) continue;
      await get(0, key);
      await get(1, key);
    }
    timings.push(`restored: GET 64 MiB via gw1 ${await get(1, `healthy/05-${64 * 1024 * 1024}`)} ms`);
    t.pass('every acknowledged object reads back byte-identical');
    t.same((await list(1)).keys, [...stored.keys()].sort(), 'listing shows every acknowledged object and nothing else');
    timings.push(`restored: PUT 8 MiB via gw0 ${await put(0, 'restored/large', 8 * 1024 * 1024)} ms`);
    await get(1, 'restored/large');
    // Repair is a later issue: until it lands, the writes a cut node missed are simply absent there.
    const secret = (await readFile(join(clusterDir, 'cluster-secret'), 'utf8')).trim();
    const n0 = new NodeClient({ nodeId: 'n0', address: addressOf('n0'), clusterSecret: secret });
    try {
      const missed = [...stored.keys()].filter((key) => key.startsWith('cut-'));
      const absent = (await Promise.all(missed.map((key) => n0.objectStatus(bucket, key)))).filter((status) => status === null).length;
      t.comment(`n0 lacks ${absent} of the ${missed.length} objects written while it was cut off (repair will restore them)`);
    } finally {
      await n0.close();
    }
  });

  await t.test('teardown stops every process and removes every namespace, veth and the bridge', async (t) => {
    for (const client of clients) client.destroy();
    await net.destroy();
    t.same(net.leftovers(), [], 'nothing of this run is left');
  });

  t.comment(`timings:\n${timings.join('\n')}`);
  t.comment(`multi-host test took ${Date.now() - started} ms`);
}

/** The assertions `degraded` makes on a subtest. */
interface Tap {
  same(found: unknown, wanted: unknown, message: string): unknown;
  ok(value: unknown, message: string): unknown;
}

/** Runs `tessera ARGS` in the root namespace and returns its stdout; rejects with its output when it fails. */
async function tessera(args: readonly string[]): Promise<string> {
  try {
    const { stdout } = await promisify(execFile)(process.execPath, tesseraArgs(...args), {
      cwd: REPO_ROOT,
      timeout: 120_000,
    });
    return stdout;
  } catch (err) {
    const { stdout = '', stderr = '' } = err as { stdout?: string; stderr?: string };
    throw new Error(`tessera ${args.join(' ')} failed\n${stdout}\n${stderr}`, { cause: err });
  }
}

/** Polls `url` from the root namespace until it answers 200; fails early if one of `processes` exits. */
async function waitFor(what: string, url: string, processes: readonly HostProcess[], timeoutMs = 60_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    const dead = processes.find((p) => p.child.exitCode !== null || p.child.signalCode !== null);
    if (dead !== undefined) throw new Error(`${dead.host.name} exited while waiting for ${what}:\n${dead.output()}`);
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      const body = await response.text();
      if (response.status === 200) return body;
      last = `HTTP ${response.status} ${body.slice(0, 200)}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`${what} not ready after ${timeoutMs} ms: ${last}`);
}

process.env['AWS_SDK_JS_SUPPRESS_NODE_DEPRECATION_WARNING'] = '1';
const unavailable = await multihostUnavailable();
if (unavailable === undefined) {
  await multihost();
} else if (process.env['CI'] !== undefined && process.env['CI'] !== '' && process.env['CI'] !== 'false') {
  // CI runs as root with iproute2: there, a missing prerequisite is a failure, not a skip.
  t.fail(`multi-host test cannot run in CI: ${unavailable}`);
} else {
  t.pass('multi-host test skipped', { skip: `${unavailable}; run as root on Linux with iproute2 (CI does)` });
}
