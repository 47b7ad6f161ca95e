import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, ListBucketsCommand, S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { bucketName } from './bytes.js';
import { until } from './until.js';
import { TEST_PARTITION_BITS } from './tree.js';
import { formatVersionId, parseGatewayConfig, silentLogger, type GatewayConfig, type Logger, type NodeHealingConfig } from '../../src/common/index.js';
import { Gateway } from '../../src/gateway/index.js';
import { StorageNode } from '../../src/storage-node/index.js';
import { runUserCli } from '../../src/bin/user-cli.js';

/** Credentials every test cluster accepts. Pass copies: the AWS SDK annotates the object it is given. */
export const TEST_CREDENTIALS = { accessKeyId: 'test-access-key', secretAccessKey: 'test-secret-key' } as const;

/** An SDK client for a local endpoint (path-style, us-east-1); `extra` adds settings such as maxAttempts. */
export function localS3Client(endpoint: string, credentials: { accessKeyId: string; secretAccessKey: string }, extra: Partial<S3ClientConfig> = {}): S3Client {
  return new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { ...credentials }, ...extra });
}

/**
 * A second gateway of `cluster` in this process and a client of it that does not retry, so that the
 * loser of a race answers with its own status; both are closed when `t` ends.
 */
export async function secondGatewayClient(t: { teardown(fn: () => unknown): void }, cluster: TestCluster): Promise<S3Client> {
  const client = localS3Client(await startSecondGateway(t, cluster), TEST_CREDENTIALS, { maxAttempts: 1 });
  t.teardown(() => client.destroy());
  return client;
}

/** Another gateway of `cluster` in this process, with its own caches; its endpoint. Closed when `t` ends. */
export async function startSecondGateway(t: { teardown(fn: () => unknown): void }, cluster: TestCluster, overrides: Partial<GatewayConfig> = {}): Promise<string> {
  const second = new Gateway({ config: { ...cluster.config, ...overrides }, logger: silentLogger() });
  await second.start();
  t.teardown(() => second.close());
  return `http://127.0.0.1:${second.address.port}`;
}

/** The HTTP status a request ended with: 200 when it succeeded, -1 when it failed without one. */
export async function statusOf(work: Promise<unknown>): Promise<number> {
  try {
    await work;
    return 200;
  } catch (err) {
    return (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode ?? -1;
  }
}

/** An in-process cluster: real nodes on real LevelDB and files, a real gateway, all on loopback ports. */
export interface TestCluster {
  endpoint: string;
  /** The web console's origin (its own port): `${consoleEndpoint}/-/console/`. */
  consoleEndpoint: string;
  dataDir: string;
  gateway: Gateway;
  nodes: StorageNode[];
  config: GatewayConfig;
  client(): S3Client;
  /** Stops node i (its port stays reserved for nothing: requests to it fail fast). */
  stopNode(index: number): Promise<void>;
  /** Stops everything; the data directory is removed unless `keepData`. */
  close(options?: { keepData?: boolean }): Promise<void>;
}

/** Adds user `name` as `tessera admin user add --config configFile` does; its access keys. */
export async function addUser(configFile: string, name: string): Promise<{ accessKeyId: string; secretAccessKey: string }> {
  let out = '';
  const code = await runUserCli('user', ['add', name, '--config', configFile], {}, { stdout: (s) => void (out += s), stderr: () => undefined });
  if (code !== 0) throw new Error(`tessera admin user add ${name} exited ${code}`);
  return { accessKeyId: /^access key: (\S+)$/m.exec(out)?.[1] ?? '', secretAccessKey: /^secret key: (\S+)$/m.exec(out)?.[1] ?? '' };
}

/**
 * Adds users to `cluster` through the admin CLI and gives a client of each (no retries), with the
 * user's canonical id, once the gateway knows the user (it learns of new users within seconds).
 * The clients are destroyed when `t` ends.
 */
export async function userClients(t: { teardown(fn: () => unknown): void }, cluster: TestCluster): Promise<(name: string) => Promise<{ client: S3Client; id: string }>> {
  const configFile = await writeGatewayConfig(cluster);
  const clients: S3Client[] = [];
  t.teardown(() => clients.forEach((client) => client.destroy()));
  return async (name) => {
    const client = localS3Client(cluster.endpoint, await addUser(configFile, name), { maxAttempts: 1 });
    clients.push(client);
    let id = '';
    await until(`${name} is known`, async () => {
      id = (await client.send(new ListBucketsCommand({})).catch(() => undefined))?.Owner?.ID ?? '';
      return id !== '';
    }, 20_000);
    return { client, id };
  };
}

/** Starts `nodeCount` storage nodes and one gateway in this process. */
/**
 * Writes a gateway configuration naming `cluster`'s nodes, secret and the test credentials: the file
 * `tessera admin user|key|policy --config` reaches the cluster through. Returns its path.
 */
export async function writeGatewayConfig(cluster: TestCluster): Promise<string> {
  const file = join(cluster.dataDir, 'gateway.json');
  const nodes = cluster.config.nodes.map((n) => ({ id: n.id, address: n.address }));
  await writeFile(file, JSON.stringify({ credentials: [{ ...TEST_CREDENTIALS }], clusterSecret: cluster.config.clusterSecret, partitionBits: cluster.config.partitionBits, nodes }));
  return file;
}

export async function startCluster(
  options: {
    nodeCount?: number;
    dataShards?: number;
    parityShards?: number;
    blockSizeBytes?: number;
    gatewayOverrides?: Record<string, unknown>;
    /** Reuse the data of an earlier cluster (a restart). */
    dataDir?: string;
    /** The gateway's logger, for tests that read what it logs; silent by default. */
    gatewayLogger?: Logger;
    /**
     * False: the nodes run no background work (scrub, audit, repair, rebalance, gc, lifecycle), so every node
     * call a test sees came from a gateway, and the first passes' CPU (about 3.5 s in the first 10 s of a
     * 6-node cluster) goes to the test instead. For tests of the S3 surface, which never wait on that work.
     */
    nodeHealing?: false;
    /** The nodes' background work paced other than by default (e.g. a small index split bound). */
    healing?: Partial<NodeHealingConfig>;
  } = {},
): Promise<TestCluster> {
  const nodeCount = options.nodeCount ?? 6;
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'tessera-test-')));
  const clusterSecret = 'test-cluster-secret';
  const logger = silentLogger();
  const nodes: StorageNode[] = [];
  let gateway: Gateway | undefined;
  let config: GatewayConfig;
  try {
    for (let i = 0; i < nodeCount; i += 1) {
      const node = new StorageNode({
        nodeId: `node-${i}`,
        dataDir: join(dataDir, `node-${i}`),
        host: '127.0.0.1',
        port: 0,
        clusterSecret,
        logger,
        ...(options.nodeHealing === false ? { healing: false as const } : options.healing === undefined ? {} : { healing: options.healing }),
      });
      nodes.push(node);
      await node.start();
    }
    config = clusterConfig(nodes, clusterSecret, options);
    gateway = new Gateway({ config, logger: options.gatewayLogger ?? logger });
    await gateway.start();
  } catch (err) {
    // A half-started cluster would keep the test process alive until its timeout.
    await gateway?.close().catch(() => undefined);
    for (const node of nodes) await node.close().catch(() => undefined);
    if (options.dataDir === undefined) await rm(dataDir, { recursive: true, force: true });
    throw err;
  }
  return wrapCluster(gateway, config, nodes, dataDir);
}

function clusterConfig(
  nodes: readonly StorageNode[],
  clusterSecret: string,
  options: { dataShards?: number; parityShards?: number; blockSizeBytes?: number; gatewayOverrides?: Record<string, unknown> },
): GatewayConfig {
  return parseGatewayConfig({
    listen: '127.0.0.1:0',
    consoleListen: '127.0.0.1:0',
    credentials: [{ ...TEST_CREDENTIALS }],
    clusterSecret,
    erasure: {
      dataShards: options.dataShards ?? 4,
      parityShards: options.parityShards ?? 2,
      ...(options.blockSizeBytes === undefined ? {} : { blockSizeBytes: options.blockSizeBytes }),
    },
    nodes: nodes.map((node, i) => ({ id: `node-${i}`, address: `127.0.0.1:${node.address.port}`, zone: 'test' })),
    metadataTimeoutMs: 2_000,
    stallTimeoutMs: 2_000,
    partitionBits: TEST_PARTITION_BITS,
    // TESSERA_AES_BACKEND reaches test gateways too (CI runs the encryption tests once more on node:crypto); a test's own choice wins.
    ...(process.env['TESSERA_AES_BACKEND'] === undefined ? {} : { aesBackend: process.env['TESSERA_AES_BACKEND'] }),
    ...options.gatewayOverrides,
  });
}

function wrapCluster(gateway: Gateway, config: GatewayConfig, nodes: StorageNode[], dataDir: string): TestCluster {
  const endpoint = `http://127.0.0.1:${gateway.address.port}`;
  const consoleEndpoint = `http://127.0.0.1:${gateway.consoleAddress?.port ?? 0}`;
  const stopped = new Set<number>();
  const clients: S3Client[] = [];
  return {
    endpoint,
    consoleEndpoint,
    dataDir,
    gateway,
    nodes,
    config,
    client() {
      const client = localS3Client(endpoint, TEST_CREDENTIALS);
      clients.push(client);
      return client;
    },
    async stopNode(index) {
      if (stopped.has(index)) return;
      stopped.add(index);
      await nodes[index]?.close();
    },
    async close(closeOptions = {}) {
      for (const client of clients) client.destroy();
      await gateway.close();
      for (let i = 0; i < nodes.length; i += 1) if (!stopped.has(i)) await nodes[i]?.close();
      if (closeOptions.keepData !== true) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * A new bucket on a cluster several tests share, and an SDK client of it: each test in a bucket of its
 * own, the cluster started once (and torn down by whoever started it).
 */
export async function bucketOn(cluster: TestCluster): Promise<{ cluster: TestCluster; s3: S3Client; bucket: string }> {
  const s3 = cluster.client();
  const bucket = bucketName();
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  return { cluster, s3, bucket };
}

/**
 * A bucket as one created before the bucket index existed holds it: a record without `index`, written
 * straight to every node, so listings merge the nodes' own keys. For tests of that listing path (and of
 * what it does when nodes disagree, which they set up by writing to nodes directly).
 */
export async function unindexedBucketOn(cluster: TestCluster): Promise<{ cluster: TestCluster; s3: S3Client; bucket: string }> {
  const bucket = bucketName();
  const createdMs = Date.now();
  const record = { name: bucket, versionId: formatVersionId(createdMs, 0, 'a1b2c3d4'), createdMs, deleted: false };
  await Promise.all(cluster.nodes.map((node) => node.parts.store.putBucket(record)));
  return { cluster, s3: cluster.client(), bucket };
}

/** A started cluster, one SDK client and one new bucket, torn down with the test. The usual start of an S3 test file. */
export async function clusterWithBucket(
  t: { teardown(fn: () => unknown): void },
  options: Parameters<typeof startCluster>[0] = {},
): Promise<{ cluster: TestCluster; s3: S3Client; bucket: string }> {
  const cluster = await startCluster(options);
  t.teardown(() => cluster.close());
  const s3 = cluster.client();
  const bucket = bucketName();
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  return { cluster, s3, bucket };
}
