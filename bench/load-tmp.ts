import { randomFillSync } from 'node:crypto';
import { S3BenchClient } from './lib/s3-bench-client.js';
import { runCase } from './lib/run-case.js';
const [endpoint, sizeText, concText, opsText] = process.argv.slice(2);
const size = Number(sizeText), conc = Number(concText), ops = Number(opsText);
const client = new S3BenchClient({ endpoint: endpoint!, accessKeyId: 'tessera', secretAccessKey: 'tessera-dev-secret', connections: conc, timeoutMs: 120000 });
await client.createBucket('load').catch(() => {});
const payload = randomFillSync(new Uint8Array(size));
for (const kind of ['put', 'get'] as const) {
  const r = await runCase({ ops, concurrency: conc, sizeBytes: size, op: (i) => kind === 'put' ? client.put('load', `k${size}/${i}`, payload) : client.get('load', `k${size}/${i}`, payload, i === 0) });
  const secs = r.wallMs / 1000;
  console.log(kind, size, 'ops/s', (ops / secs).toFixed(0), 'MiB/s', (ops * size / secs / 2 ** 20).toFixed(1), 'errors', r.errors, r.firstError ?? '');
}
await client.close();
