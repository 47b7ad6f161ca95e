/**
 * Encrypted against plain PUT and GET throughput, side by side in one run: the embedded layout (one
 * gateway, 6 nodes at 4+2, all in this process) with the SDK as client, for 1 MiB and 64 MiB objects,
 * plain, SSE-S3 and SSE-C. Also the package format alone (encrypt and decrypt MB/s on one core), the
 * ceiling the data path can reach. The issue's target: encrypted >= 80% of plain. Beside throughput, the
 * CPU time this process (client, gateway and nodes) spent per MiB: on a machine shared with other
 * work, throughput swings with the neighbours while CPU per MiB shows what encryption itself costs.
 *
 *   npm run bench:sse              # 1 MiB x 64 and 64 MiB x 4 per mode
 *   npm run bench:sse -- --quick   # 1 MiB x 16 and 64 MiB x 1
 */
import { createHash, randomBytes } from 'node:crypto';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { PackageEncryptor, decryptRange, nodePackageCipher, storedSize } from '../src/gateway/encryption/index.js';
import { startCluster } from '../test/helpers/cluster.js';
import { masterKeyFile } from '../test/helpers/sse.js';

const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false } } });
const MiB = 1024 * 1024;
const CASES = values.quick
  ? [{ sizeBytes: MiB, count: 16, concurrency: 4 }, { sizeBytes: 64 * MiB, count: 1, concurrency: 1 }]
  : [{ sizeBytes: MiB, count: 64, concurrency: 4 }, { sizeBytes: 64 * MiB, count: 4, concurrency: 1 }];
const MODES = ['plain', 'SSE-S3', 'SSE-C'] as const;
type Mode = (typeof MODES)[number];

const customerKey = randomBytes(32);
function fields(mode: Mode): Record<string, string> {
  if (mode === 'SSE-S3') return { ServerSideEncryption: 'AES256' };
  if (mode === 'SSE-C') {
    return { SSECustomerAlgorithm: 'AES256', SSECustomerKey: customerKey.toString('base64'), SSECustomerKeyMD5: createHash('md5').update(customerKey).digest('base64') };
  }
  return {};
}

async function inPool(count: number, concurrency: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < count) await task(next++);
  }));
}

/** Bodies and shard reads arrive in socket-sized pieces that do not line up with the 64 KiB packages. */
const PIECE_BYTES = 65_000;

async function* pieces(bytes: Buffer): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < bytes.length; at += PIECE_BYTES) yield bytes.subarray(at, Math.min(bytes.length, at + PIECE_BYTES));
}

async function packageFormat(sizeBytes: number): Promise<{ encryptMBs: number; decryptMBs: number }> {
  const plain = randomBytes(sizeBytes);
  const key = randomBytes(32);
  const nonce = randomBytes(16);
  let started = performance.now();
  const stored: Uint8Array[] = [];
  for await (const piece of new PackageEncryptor(key, nonce, nodePackageCipher()).encrypt(pieces(plain), sizeBytes)) stored.push(piece);
  const encryptMBs = sizeBytes / 1e6 / ((performance.now() - started) / 1000);
  const whole = Buffer.concat(stored);
  if (whole.length !== storedSize(sizeBytes)) throw new Error('stored size');
  started = performance.now();
  let n = 0;
  for await (const piece of decryptRange(pieces(whole), { cipher: nodePackageCipher(), dataKey: key, objectNonce: nonce, plainBytes: sizeBytes, offsetBytes: 0, lengthBytes: sizeBytes })) n += piece.length;
  if (n !== sizeBytes) throw new Error('decrypted size');
  return { encryptMBs, decryptMBs: sizeBytes / 1e6 / ((performance.now() - started) / 1000) };
}

const format = await packageFormat(256 * MiB);
const keys = await masterKeyFile();
const cluster = await startCluster({ gatewayOverrides: { sseMasterKeyFile: keys.path, sseCustomerKeysOverHttp: true } });
const s3: S3Client = cluster.client();
await s3.send(new CreateBucketCommand({ Bucket: 'sse-bench' }));

const rows: string[] = [];
for (const { sizeBytes, count, concurrency } of CASES) {
  const body = randomBytes(sizeBytes);
  const results = new Map<Mode, { put: number; get: number; putCpu: number; getCpu: number }>();
  // Interleaved rounds, so a machine that slows down part-way hurts every mode alike.
  for (const mode of MODES) results.set(mode, { put: 0, get: 0, putCpu: Infinity, getCpu: Infinity });
  const cpuMs = (since: NodeJS.CpuUsage): number => {
    const used = process.cpuUsage(since);
    return (used.user + used.system) / 1000;
  };
  for (let round = 0; round < 2; round += 1) {
    for (const mode of MODES) {
      const name = `${mode}-${sizeBytes}`;
      let started = performance.now();
      let cpu = process.cpuUsage();
      await inPool(count, concurrency, async (i) => {
        await s3.send(new PutObjectCommand({ Bucket: 'sse-bench', Key: `${name}-${i}`, Body: body, ContentLength: sizeBytes, ...fields(mode) }));
      });
      const putSeconds = (performance.now() - started) / 1000;
      const putCpuMs = cpuMs(cpu);
      started = performance.now();
      cpu = process.cpuUsage();
      await inPool(count, concurrency, async (i) => {
        const got = await s3.send(new GetObjectCommand({ Bucket: 'sse-bench', Key: `${name}-${i}`, ...fields(mode === 'SSE-S3' ? 'plain' : mode) }));
        let n = 0;
        for await (const piece of got.Body as AsyncIterable<Uint8Array>) n += piece.length;
        if (n !== sizeBytes) throw new Error(`${name}-${i}: read ${n} of ${sizeBytes} bytes`);
      });
      const getSeconds = (performance.now() - started) / 1000;
      const getCpuMs = cpuMs(cpu);
      const mb = (count * sizeBytes) / 1e6;
      const mib = (count * sizeBytes) / MiB;
      const sofar = results.get(mode) as { put: number; get: number; putCpu: number; getCpu: number };
      // The better of two rounds: the first warms connections and caches.
      results.set(mode, {
        put: Math.max(sofar.put, mb / putSeconds),
        get: Math.max(sofar.get, mb / getSeconds),
        putCpu: Math.min(sofar.putCpu, putCpuMs / mib),
        getCpu: Math.min(sofar.getCpu, getCpuMs / mib),
      });
    }
  }
  const plain = results.get('plain') as { put: number; get: number; putCpu: number; getCpu: number };
  for (const mode of MODES) {
    const r = results.get(mode) as { put: number; get: number; putCpu: number; getCpu: number };
    const pct = (x: number, y: number): string => `${Math.round((100 * x) / y)}%`;
    rows.push(
      `${`${sizeBytes / MiB} MiB x ${count}`.padEnd(14)} ${mode.padEnd(7)} PUT ${r.put.toFixed(0).padStart(5)} MB/s ${pct(r.put, plain.put).padStart(5)} ${r.putCpu.toFixed(1).padStart(6)} ms CPU/MiB ${pct(plain.putCpu, r.putCpu).padStart(5)}` +
        `   GET ${r.get.toFixed(0).padStart(5)} MB/s ${pct(r.get, plain.get).padStart(5)} ${r.getCpu.toFixed(1).padStart(6)} ms CPU/MiB ${pct(plain.getCpu, r.getCpu).padStart(5)}`,
    );
  }
}
console.log(`node ${process.version}; ${cpus()[0]?.model ?? 'cpu'} x ${cpus().length}; gateway, 6 nodes (4+2) and the SDK client in one process`);
console.log(`package format alone (256 MiB in ${PIECE_BYTES}-byte pieces, one core): encrypt ${format.encryptMBs.toFixed(0)} MB/s, decrypt ${format.decryptMBs.toFixed(0)} MB/s`);
console.log('object         mode    PUT: throughput (vs plain), CPU per MiB (plain\'s CPU as % of this)   GET: the same');
for (const row of rows) console.log(row);
await cluster.close();
await keys.remove();
