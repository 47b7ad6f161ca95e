import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { t } from 'tap';
import { parseGatewayConfig, silentLogger } from '../../src/common/index.js';
import { Gateway } from '../../src/gateway/index.js';
import { StorageNode } from '../../src/storage-node/index.js';
import { bucketName, collect, md5Hex, seededBytes } from '../helpers/bytes.js';
import { TEST_CREDENTIALS, localS3Client } from '../helpers/cluster.js';
import { SlowLink } from '../helpers/slow-link.js';

const SECRET = 'test-cluster-secret';
/** The configured timeouts, far below the slowest the nodes get here. */
const TIMEOUT_FLOOR_MS = 300;

/** Six nodes, each behind a relay that can slow its answers, and one gateway that reaches them only through the relays. */
async function slowCluster(t: { teardown(fn: () => unknown): void }): Promise<{ links: SlowLink[]; endpoint: string }> {
  const dataDir = await mkdtemp(join(tmpdir(), 'tessera-slow-'));
  const nodes: StorageNode[] = [];
  const links: SlowLink[] = [];
  let gateway: Gateway | undefined;
  t.teardown(async () => {
    await gateway?.close();
    for (const link of links) await link.close();
    for (const node of nodes) await node.close();
    await rm(dataDir, { recursive: true, force: true });
  });
  for (let i = 0; i < 6; i += 1) {
    const node = new StorageNode({ nodeId: `node-${i}`, dataDir: join(dataDir, `node-${i}`), host: '127.0.0.1', port: 0, clusterSecret: SECRET, logger: silentLogger() });
    nodes.push(node);
    await node.start();
    links.push(await SlowLink.start({ host: '127.0.0.1', port: node.address.port }));
  }
  const config = parseGatewayConfig({
    listen: '127.0.0.1:0',
    credentials: [{ ...TEST_CREDENTIALS }],
    clusterSecret: SECRET,
    erasure: { dataShards: 4, parityShards: 2 },
    nodes: links.map((link, i) => ({ id: `node-${i}`, address: link.address, zone: 'test' })),
    metadataTimeoutMs: TIMEOUT_FLOOR_MS,
    stallTimeoutMs: TIMEOUT_FLOOR_MS,
  });
  gateway = new Gateway({ config, logger: silentLogger() });
  const address = await gateway.start();
  return { links, endpoint: `http://127.0.0.1:${address.port}` };
}

t.test('nodes that slow down to several times the configured timeouts make requests slower, never failed (with SDK retries)', async (t) => {
  const { links, endpoint } = await slowCluster(t);
  const s3 = localS3Client(endpoint, TEST_CREDENTIALS);
  t.teardown(() => s3.destroy());
  const bucket = bucketName();
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const written = new Map<string, string>();
  let step = 0;
  // The machine gets busier step by step: from idle to answers 4x slower than the configured timeouts.
  for (const delayMs of [0, 100, 400, 1_200]) {
    for (const link of links) link.delayMs = delayMs;
    for (const sizeBytes of [3_000, 2_500_000]) {
      step += 1;
      const key = `step-${step}-${delayMs}ms-${sizeBytes}`;
      const body = seededBytes(sizeBytes, step);
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
      written.set(key, md5Hex(body));
      const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      t.equal(md5Hex(await collect(got.Body as AsyncIterable<Uint8Array>)), md5Hex(body), `${key} reads back`);
    }
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: [...written.keys()][0] as string }));
    t.ok(head.ContentLength !== undefined, `HEAD answers at ${delayMs} ms`);
  }
  const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
  t.same((listed.Contents ?? []).map((o) => o.Key).sort(), [...written.keys()].sort(), 'the listing holds every object written');
});
