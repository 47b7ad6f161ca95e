/**
 * Encrypted against plain PUT and GET throughput, side by side in one run: the embedded layout (one
 * gateway, 6 nodes at 4+2, all in this process) with the SDK as client, for 1 MiB and 64 MiB objects,
 * plain, SSE-S3 and SSE-C. First the package format alone on each AES-256-GCM backend (seal and open
 * GB/s of 64 MiB on one core, in whole 64 KiB pieces and in socket-sized ones), the ceiling the data
 * path can reach. The issue's target: encrypted >= 80% of plain. Beside throughput, the CPU time this
 * process (client, gateway and nodes) spent per MiB: on a machine shared with other work, throughput
 * swings with the neighbours while CPU per MiB shows what encryption itself costs.
 *
 *   npm run bench:sse                          # 1 MiB x 64 and 64 MiB x 4 per mode
 *   npm run bench:sse -- --quick               # 1 MiB x 16 and 64 MiB x 1
 *   npm run bench:sse -- --format-only         # the package format alone, every backend
 *   npm run bench:sse -- --aes-backend=node    # the cluster's gateway on node:crypto (default: auto)
 */
import { createHash, randomBytes } from 'node:crypto';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { PackageEncryptor, availablePackageCiphers, decryptRange, resolvePackageCipher, storedSize, type AesBackendChoice, type PackageCipher } from '../src/gateway/encryption/index.js';
import { startCluster } from '../test/helpers/cluster.js';
import { masterKeyFile } from '../test/helpers/sse.js';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    'format-only': { type: 'boolean', default: false },
    'aes-backend': { type: 'string', default: 'auto' },
  },
});
const aesBackend = values['aes-backend'] as AesBackendChoice;
if (!['auto', 'native', 'node'].includes(aesBackend)) throw new Error('--aes-backend is auto, native or node');
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

/** Shard reads and request bodies arrive in socket-sized pieces that do not line up with the 64 KiB packages. */
const SOCKET_PIECE_BYTES = 65_000;
const FORMAT_BYTES = 64 * MiB;

async function* pieces(bytes: Buffer, pieceBytes: number): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < bytes.length; at += pieceBytes) yield bytes.subarray(at, Math.min(bytes.length, at + pieceBytes));
}

/** Seal and open GB/s of `sizeBytes` through the package format on `cipher`, pieces of `pieceBytes`; the best of five rounds. */
async function packageFormat(cipher: PackageCipher, sizeBytes: number, pieceBytes: number): Promise<{ sealGBs: number; openGBs: number }> {
  const plain = randomBytes(sizeBytes);
  const key = randomBytes(32);
  const nonce = randomBytes(16);
  let sealGBs = 0;
  let openGBs = 0;
  for (let round = 0; round < 5; round += 1) {
    let started = performance.now();
    const stored: Uint8Array[] = [];
    for await (const piece of new PackageEncryptor(key, nonce, cipher).encrypt(pieces(plain, pieceBytes), sizeBytes)) stored.push(piece);
    sealGBs = Math.max(sealGBs, sizeBytes / 1e9 / ((performance.now() - started) / 1000));
    const whole = Buffer.concat(stored);
    if (whole.length !== storedSize(sizeBytes)) throw new Error('stored size');
    started = performance.now();
    let n = 0;
    const options = { cipher, dataKey: key, objectNonce: nonce, plainBytes: sizeBytes, offsetBytes: 0, lengthBytes: sizeBytes };
    for await (const piece of decryptRange(pieces(whole, pieceBytes), options)) n += piece.length;
    if (n !== sizeBytes) throw new Error('decrypted size');
    openGBs = Math.max(openGBs, sizeBytes / 1e9 / ((performance.now() - started) / 1000));
  }
  return { sealGBs, openGBs };
}

const formatLines: string[] = [];
for (const cipher of availablePackageCiphers()) {
  for (const pieceBytes of [64 * 1024, SOCKET_PIECE_BYTES]) {
    const { sealGBs, openGBs } = await packageFormat(cipher, FORMAT_BYTES, pieceBytes);
    formatLines.push(`  ${cipher.backend.padEnd(6)} pieces of ${String(pieceBytes).padStart(6)} B: seal ${sealGBs.toFixed(2)} GB/s, open ${openGBs.toFixed(2)} GB/s`);
  }
}
const machine = `node ${process.version}; ${cpus()[0]?.model ?? 'cpu'} x ${cpus().length}`;
if (values['format-only']) {
  console.log(machine);
  console.log(`package format alone (64 MiB in 64 KiB packages, one core, best of 5):`);
  for (const line of formatLines) console.log(line);
  process.exit(0);
}

const keys = await masterKeyFile();
const cluster = await startCluster({ gatewayOverrides: { sseMasterKeyFile: keys.path, sseCustomerKeysOverHttp: true, aesBackend } });
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
console.log(`${machine}; gateway, 6 nodes (4+2) and the SDK client in one process; gateway AES-256-GCM: ${resolvePackageCipher(aesBackend).cipher.backend}`);
console.log(`package format alone (64 MiB in 64 KiB packages, one core, best of 5):`);
for (const line of formatLines) console.log(line);
console.log('object         mode    PUT: throughput (vs plain), CPU per MiB (plain\'s CPU as % of this)   GET: the same');
for (const row of rows) console.log(row);
await cluster.close();
await keys.remove();
