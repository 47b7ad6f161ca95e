/**
 * Memory of the data path: streams one large object through the embedded cluster (PUT, then GET)
 * while sampling this process's resident set, and prints peak growth over the idle baseline.
 * The object is generated and checked on the fly, so the only large buffers are Tessera's own.
 *
 *   npm run bench:memory -- --size-mib 1024
 *   npm run bench:memory -- --size-mib 1024 --sse   # the same object encrypted (SSE-S3)
 *   npm run bench:memory -- --size-mib 1024 --dev   # `tessera dev` as users start it: nodes in their
 *                                                   # thread, reached over in-process links
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, CreateBucketCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { runDev } from '../src/bin/roles.js';
import { silentLogger } from '../src/common/index.js';
import { localS3Client, startCluster } from '../test/helpers/cluster.js';
import { masterKeyFile } from '../test/helpers/sse.js';

const { values } = parseArgs({
  options: { 'size-mib': { type: 'string', default: '1024' }, sse: { type: 'boolean', default: false }, dev: { type: 'boolean', default: false } },
});
const sizeBytes = Number(values['size-mib']) * 1024 * 1024;
const CHUNK = 1024 * 1024;

function source(): Readable {
  const chunk = Buffer.alloc(CHUNK);
  for (let i = 0; i < CHUNK; i += 1) chunk[i] = (i * 31 + 7) & 0xff;
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= sizeBytes) {
        this.push(null);
        return;
      }
      const piece = chunk.subarray(0, Math.min(CHUNK, sizeBytes - sent));
      sent += piece.length;
      this.push(piece);
    },
  });
}

/** The embedded default as `tessera dev` runs it (it keeps its own master key for SSE-S3), in a data directory removed on close. */
async function startDev(): Promise<{ client: () => S3Client; close: () => Promise<void> }> {
  const dataDir = await mkdtemp(join(tmpdir(), 'tessera-memory-'));
  const dev = await runDev({ data: dataDir, listen: '127.0.0.1:0' }, {}, silentLogger());
  return {
    client: () => localS3Client(dev.info.endpoint, dev.info),
    close: async () => {
      await dev.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

const mib = (bytes: number): string => (bytes / 1024 / 1024).toFixed(1);

const keys = values.sse ? await masterKeyFile() : undefined;
const cluster = values.dev ? await startDev() : await startCluster(keys === undefined ? {} : { gatewayOverrides: { sseMasterKeyFile: keys.path } });
const s3 = cluster.client();
await s3.send(new CreateBucketCommand({ Bucket: 'memory' }));
global.gc?.();
const baseline = process.memoryUsage().rss;
let peak = baseline;
const sampler = setInterval(() => {
  peak = Math.max(peak, process.memoryUsage().rss);
}, 20);

// The expected digest comes from a second pass over the same generator, so the upload stream stays untouched.
const expected = createHash('md5');
for await (const piece of source()) expected.update(piece as Buffer);
const body = source();
let started = performance.now();
await s3.send(new PutObjectCommand({ Bucket: 'memory', Key: 'big', Body: body, ContentLength: sizeBytes, ...(values.sse ? { ServerSideEncryption: 'AES256' } : {}) }));
const putSeconds = (performance.now() - started) / 1000;
const putPeak = peak;

peak = process.memoryUsage().rss;
started = performance.now();
const got = await s3.send(new GetObjectCommand({ Bucket: 'memory', Key: 'big' }));
const actual = createHash('md5');
let received = 0;
for await (const piece of got.Body as AsyncIterable<Uint8Array>) {
  actual.update(piece);
  received += piece.length;
}
const getSeconds = (performance.now() - started) / 1000;
clearInterval(sampler);
const getPeak = peak;

const same = received === sizeBytes && actual.digest('hex') === expected.digest('hex');
const layout = values.dev ? 'tessera dev (nodes in a worker thread, in-process links)' : 'gateway and 6 nodes on one thread, over HTTP';
console.log(`node ${process.version}; object ${mib(sizeBytes)} MiB${values.sse ? ' encrypted (SSE-S3)' : ''}; client and ${layout} in one process`);
console.log(`baseline rss            ${mib(baseline)} MiB`);
console.log(`PUT  peak rss growth    ${mib(putPeak - baseline)} MiB   (${(sizeBytes / 1e6 / putSeconds).toFixed(0)} MB/s)`);
console.log(`GET  peak rss growth    ${mib(getPeak - baseline)} MiB   (${(sizeBytes / 1e6 / getSeconds).toFixed(0)} MB/s)`);
console.log(`growth / object size    PUT ${((putPeak - baseline) / sizeBytes).toFixed(4)}   GET ${((getPeak - baseline) / sizeBytes).toFixed(4)}`);
console.log(`bytes read back identical: ${same}`);
await cluster.close();
await keys?.remove();
if (!same) process.exitCode = 1;
