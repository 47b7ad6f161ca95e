// Linearizability across gateways: clients of two gateways (each with its own clock, caches and node
// connections) read, write and delete a few keys concurrently while a storage node is stopped part way;
// every operation's invocation and completion times are recorded and the per-key histories are checked
// against a register model (test/helpers/linearizability.ts). A failing history is written to a file
// named in the failure. LIN_OPS sets operations per client (default 40). Conditional writes (If-Match /
// If-None-Match: *) go to the same keys as plain writes: a conditional write's check must see every
// plain write ordered before it.
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, DeleteObjectCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { t } from 'tap';
import { silentLogger } from '../../src/common/index.js';
import { Gateway } from '../../src/gateway/index.js';
import { TEST_CREDENTIALS, localS3Client, startCluster } from '../helpers/cluster.js';
import { S3_REGISTER, isLinearizable, type Operation, type RegisterInput, type RegisterOutput } from '../helpers/linearizability.js';

const OPS_PER_CLIENT = Number(process.env['LIN_OPS'] ?? 40);
const KEYS = ['k0', 'k1', 'k2'];
const CLIENTS_PER_GATEWAY = 3;

type Op = Operation<RegisterInput, RegisterOutput> & { key: string };

function etagOf(value: string): string {
  return `"${createHash('md5').update(value).digest('hex')}"`;
}

function statusOf(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
}

t.test('reads, writes, deletes and conditional writes of the same keys through two gateways form a linearizable history, with a node stopped part way', async (t) => {
  const cluster = await startCluster();
  t.teardown(() => cluster.close());
  const second = new Gateway({ config: cluster.config, logger: silentLogger() });
  const { port } = await second.start();
  t.teardown(() => second.close());
  const endpoints = [cluster.endpoint, `http://127.0.0.1:${port}`];
  // One attempt each: a retried conditional write could apply and then report its own precondition failure.
  const clients: S3Client[] = [];
  for (const endpoint of endpoints) for (let i = 0; i < CLIENTS_PER_GATEWAY; i += 1) clients.push(localS3Client(endpoint, TEST_CREDENTIALS, { maxAttempts: 1 }));
  t.teardown(() => clients.forEach((c) => c.destroy()));
  const bucket = 'linear';
  const setup = localS3Client(cluster.endpoint, TEST_CREDENTIALS);
  t.teardown(() => setup.destroy());
  await setup.send(new CreateBucketCommand({ Bucket: bucket }));

  const history: Op[] = [];
  const failures: string[] = [];
  let completed = 0;
  const total = clients.length * OPS_PER_CLIENT;
  const run = async (client: number): Promise<void> => {
    const s3 = clients[client] as S3Client;
    const lastSeen = new Map<string, string>();
    let state = client * 7919 + 1;
    const next = (): number => {
      state = (state * 48271) % 2147483647;
      return state / 2147483647;
    };
    for (let n = 0; n < OPS_PER_CLIENT; n += 1) {
      const key = KEYS[Math.floor(next() * KEYS.length)] as string;
      const value = `c${client}-${n}`;
      const roll = next();
      let input: RegisterInput;
      if (roll < 0.45) input = { op: 'get' };
      else if (roll < 0.8) input = roll < 0.73 ? { op: 'put', value } : { op: 'delete' };
      else if (roll < 0.9 && lastSeen.has(key)) input = { op: 'put-if-match', expected: lastSeen.get(key) as string, value };
      else input = { op: 'put-if-absent', value };
      const callMs = performance.now();
      let output: RegisterOutput;
      try {
        if (input.op === 'get') {
          const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
          const text = await (got.Body as { transformToString(): Promise<string> }).transformToString();
          lastSeen.set(key, text);
          output = { value: text };
        } else if (input.op === 'delete') {
          await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
          output = { applied: true };
        } else {
          const condition = input.op === 'put-if-match' ? { IfMatch: etagOf(input.expected) } : input.op === 'put-if-absent' ? { IfNoneMatch: '*' } : {};
          await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: input.value, ...condition }));
          output = { applied: true };
        }
      } catch (err) {
        const status = statusOf(err);
        if (input.op === 'get' && status === 404) output = { value: null };
        else if (input.op !== 'get' && input.op !== 'put' && input.op !== 'delete' && (status === 412 || status === 404)) output = { applied: false };
        else {
          output = { unknown: true };
          failures.push(`${input.op} ${key}: ${status ?? ''} ${(err as Error).name}: ${(err as Error).message}`);
        }
      }
      const returnMs = 'unknown' in output ? Infinity : performance.now();
      // A read whose answer is unknown constrains nothing.
      if (!('unknown' in output && input.op === 'get')) history.push({ client, key, input, output, callMs, returnMs });
      completed += 1;
    }
  };
  const stopping = (async () => {
    while (completed < total / 2) await new Promise((resolve) => setImmediate(resolve));
    if (process.env["LIN_NO_STOP"] !== "1") await cluster.stopNode(5);
  })();
  await Promise.all(clients.map((_, i) => run(i)));
  await stopping;

  const unknown = history.filter((op) => op.returnMs === Infinity).length;
  if (failures.length > 0) t.comment(`failed requests (unknown outcomes):\n${failures.join('\n')}`);
  t.comment(`${history.length} operations recorded (${unknown} with unknown outcome), conditional writes among them`);
  for (const key of KEYS) {
    const ops = history.filter((op) => op.key === key);
    const ok = isLinearizable(S3_REGISTER, ops);
    if (!ok) {
      const file = join(tmpdir(), `tessera-history-${key}-${Date.now()}.json`);
      await writeFile(file, JSON.stringify(ops, (_, v: unknown) => (v === Infinity ? 'Infinity' : v), 2));
      t.fail(`the history of ${key} (${ops.length} operations) is not linearizable; saved to ${file}`);
    } else t.pass(`the history of ${key} (${ops.length} operations) is linearizable`);
  }
});
