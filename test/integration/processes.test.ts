import { randomBytes, randomInt } from 'node:crypto';
import { t } from 'tap';
import {
  CreateBucketCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3ServiceException,
  type S3Client,
} from '@aws-sdk/client-s3';
import { bucketName, collect, md5Hex } from '../helpers/bytes.js';
import { startProcessCluster, type ProcessCluster } from '../helpers/server.js';

/**
 * A 4+2 cluster of real processes: six `tessera node` and one `tessera gateway`, each its own PID,
 * stopped with SIGTERM like an operator (or a crash-only supervisor) would.
 */

const MiB = 1024 * 1024;
/** A failed GET must answer within this, SDK work included. */
const PROMPT_FAILURE_MS = 20_000;

/** Empty, inline, and striped objects of three and of nine stripes and a part (the larger's shard files span several direct-I/O buffers). */
const OBJECTS = [
  { key: 'empty', sizeBytes: 0 },
  { key: 'small.txt', sizeBytes: 1_234 },
  { key: 'dir/three-mib.bin', sizeBytes: 3 * MiB + 123 },
  { key: 'dir/nine-mib.bin', sizeBytes: 9 * MiB + 7 },
].map((o) => ({ ...o, body: randomBytes(o.sizeBytes) }));

async function readBack(s3: S3Client, bucket: string, key: string): Promise<Buffer> {
  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return collect(got.Body as AsyncIterable<Uint8Array>);
}

/** Distinct node indexes in random order: "any" nodes, not a hand-picked convenient set. */
function pickNodes(nodeCount: number, count: number): number[] {
  const order = Array.from({ length: nodeCount }, (_, i) => i);
  for (let i = order.length - 1; i > 0; i -= 1) {
    const j = randomInt(i + 1);
    [order[i], order[j]] = [order[j] as number, order[i] as number];
  }
  return order.slice(0, count);
}

async function stopNodeCleanly(t: { notOk(value: unknown, message: string): void }, cluster: ProcessCluster, index: number): Promise<void> {
  const node = cluster.nodes[index];
  if (node === undefined) throw new Error(`no node ${index}`);
  const exit = await node.process.stop();
  t.notOk(exit.killed, `${node.id} (pid ${node.process.pid}) exits on SIGTERM without needing SIGKILL`);
}

t.test('six node processes and a gateway process: objects survive any two nodes stopping; a third stop gives a prompt 503', async (t) => {
  const cluster = await startProcessCluster(t, { nodeCount: 6, dataShards: 4, parityShards: 2 });
  const s3 = cluster.client({ maxAttempts: 1 });
  const bucket = bucketName('procs');
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));

  for (const { key, body } of OBJECTS) {
    const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
    t.equal(put.ETag, `"${md5Hex(body)}"`, `PUT ${key} (${body.length} B) answers the MD5 ETag`);
  }
  for (const { key, body } of OBJECTS) {
    t.ok((await readBack(s3, bucket, key)).equals(body), `${key} reads back byte-identical with all nodes up`);
  }

  const [first, second, third] = pickNodes(cluster.nodes.length, 3) as [number, number, number];
  t.comment(`stopping node-${first} and node-${second}, then node-${third}`);
  await stopNodeCleanly(t, cluster, first);
  await stopNodeCleanly(t, cluster, second);

  for (const { key, body } of OBJECTS) {
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    t.equal(head.ContentLength, body.length, `HEAD ${key} with node-${first} and node-${second} down`);
    const got = await readBack(s3, bucket, key);
    t.equal(got.length, body.length, `${key}: full length with 2 nodes down`);
    t.ok(got.equals(body), `${key}: byte-identical with 2 nodes down`);
  }
  const during = randomBytes(2 * MiB + 5);
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'written-degraded', Body: during }));
  t.ok((await readBack(s3, bucket, 'written-degraded')).equals(during), 'a PUT with 2 nodes down succeeds and reads back');

  await stopNodeCleanly(t, cluster, third);
  t.notOk(cluster.gateway.hasExited, 'the gateway process is still running with 3 nodes down');

  for (const { key, body } of OBJECTS) {
    const started = Date.now();
    let outcome: string;
    try {
      const got = await readBack(s3, bucket, key);
      outcome = got.equals(body) ? 'served intact' : `served ${got.length} of ${body.length} bytes, different content`;
    } catch (err) {
      outcome = err instanceof S3ServiceException
        ? `S3 error ${err.name} status ${String(err.$metadata.httpStatusCode)}`
        : `not an S3 error: ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`;
    }
    const elapsedMs = Date.now() - started;
    t.ok(elapsedMs < PROMPT_FAILURE_MS, `${key}: GET with 3 of 6 nodes down answers in ${elapsedMs} ms (< ${PROMPT_FAILURE_MS})`);
    if (body.length === 0) {
      // No shard bytes are needed and metadata quorum (R = 3) still holds: serving it intact is as correct as a 503.
      t.ok(outcome === 'served intact' || outcome.endsWith('status 503'), `${key} (0 B): intact or 503, got: ${outcome}`);
    } else {
      t.match(outcome, /^S3 error \S+ status 503$/, `${key}: only 3 of the 4 needed shards remain, so an S3 503 (never a short body)`);
    }
  }
  t.notOk(cluster.gateway.hasExited, 'the gateway process survived the failed reads');
  const gatewayExit = await cluster.gateway.stop();
  t.notOk(gatewayExit.killed, 'the gateway exits on SIGTERM without needing SIGKILL');
  t.equal(gatewayExit.code, 0, 'the gateway exits with status 0 on SIGTERM');
});
