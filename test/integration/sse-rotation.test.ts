import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { t } from 'tap';
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { runAdminCli } from '../../src/bin/admin-cli.js';
import { masterKeyLine } from '../../src/gateway/index.js';
import { collect, seededBytes } from '../helpers/bytes.js';
import { clusterWithBucket } from '../helpers/cluster.js';
import { masterKeyFile } from '../helpers/sse.js';
import { sdkError } from '../gateway/raw-s3.js';

/**
 * Master-key rotation under traffic: a new master key goes first in the file, the gateway reloads it,
 * `tessera admin kms rotate` re-seals every SSE-S3 data key on every node while clients keep writing
 * and reading, and once the old key is dropped from the file every object still reads back.
 */

const MiB = 1024 * 1024;
const keys = await masterKeyFile();
t.teardown(() => keys.remove());
const { cluster, s3, bucket } = await clusterWithBucket(t, { blockSizeBytes: 64 * 1024, gatewayOverrides: { sseMasterKeyFile: keys.path } });
const configPath = join(cluster.dataDir, 'gateway.json');
await writeFile(configPath, JSON.stringify({ nodes: cluster.config.nodes, clusterSecret: cluster.config.clusterSecret, credentials: cluster.config.credentials, sseMasterKeyFile: keys.path }));

async function rotate(): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runAdminCli(['kms', 'rotate', '--config', configPath], {}, { stdout: (s) => void (out += s), stderr: (s) => void (err += s) });
  return { code, out, err };
}

const objects = new Map<string, Buffer>();
/** The key the first test rotated to: what its objects are sealed under afterwards. */
let rotatedTo = '';
async function put(key: string, body: Buffer): Promise<void> {
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ServerSideEncryption: 'AES256' }));
  objects.set(key, body);
}
async function read(key: string): Promise<Buffer> {
  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return collect(got.Body as AsyncIterable<Uint8Array>);
}

t.test('every object reads back after rotation under traffic and the old key is gone', async (t) => {
  for (let i = 0; i < 8; i += 1) await put(`before-${i}`, seededBytes(i % 2 === 0 ? 1000 + i : MiB + i, i));
  const multipart = seededBytes(6 * MiB, 42);
  const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'before-mp', ServerSideEncryption: 'AES256' }));
  const p1 = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'before-mp', UploadId, PartNumber: 1, Body: multipart.subarray(0, 5 * MiB) }));
  const p2 = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'before-mp', UploadId, PartNumber: 2, Body: multipart.subarray(5 * MiB) }));
  await s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'before-mp', UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: p1.ETag as string }, { PartNumber: 2, ETag: p2.ETag as string }] } }));
  objects.set('before-mp', multipart);

  const oldFile = await readFile(keys.path, 'utf8');
  const newLine = masterKeyLine(randomBytes(32));
  rotatedTo = newLine;
  await writeFile(keys.path, newLine + oldFile);
  t.ok(await cluster.gateway.reloadMasterKeys(), 'the gateway reloads the master key file');

  // Traffic during the rotation pass: writes (sealed under the new key) and reads of everything.
  let stop = false;
  const failures: unknown[] = [];
  let trafficRounds = 0;
  const traffic = (async () => {
    for (let i = 0; !stop; i += 1) {
      try {
        await put(`during-${i}`, seededBytes(50_000 + i, 100 + i));
        const key = [...objects.keys()][i % objects.size] as string;
        if (!(await read(key)).equals(objects.get(key) as Buffer)) failures.push(`${key} read back different bytes`);
        trafficRounds += 1;
      } catch (err) {
        failures.push(err);
      }
    }
  })();
  const first = await rotate();
  t.equal(first.code, 0, `rotate succeeds: ${first.err}`);
  const resealed = Number(/(\d+) data keys re-sealed/.exec(first.out)?.[1] ?? -1);
  t.ok(resealed >= 6 * 11, `every copy of every old record is re-sealed (${first.out.trim()})`);
  // Reads and writes carry on while rotate runs; wait for at least one full round after it.
  const roundsAtEnd = trafficRounds;
  while (trafficRounds <= roundsAtEnd && failures.length === 0) await new Promise((resolve) => setImmediate(resolve));
  stop = true;
  await traffic;
  t.same(failures, [], 'no read or write failed during the rotation');

  const second = await rotate();
  t.match(second.out, /: 0 data keys re-sealed/, 'a second pass finds nothing left under the old key');

  await writeFile(keys.path, newLine);
  t.ok(await cluster.gateway.reloadMasterKeys(), 'the old key is dropped');
  for (const [key, body] of objects) t.ok((await read(key)).equals(body), `${key} reads back under the new key only`);

  // Without the key that sealed it, an object does not read: proven by dropping the new key too.
  await writeFile(keys.path, masterKeyLine(randomBytes(32)));
  await cluster.gateway.reloadMasterKeys();
  const refused = await sdkError(read('before-0'));
  t.equal(refused.status, 500, 'an object whose master key is gone fails cleanly');
});

t.test('older versions are re-sealed too: after rotation every version reads back under the new key alone', async (t) => {
  // The first test's objects stay readable through its key, last in the file.
  const oldLine = masterKeyLine(randomBytes(32));
  await writeFile(keys.path, oldLine + rotatedTo);
  t.ok(await cluster.gateway.reloadMasterKeys());
  const versioned = `${bucket}-versions`;
  await s3.send(new CreateBucketCommand({ Bucket: versioned }));
  await s3.send(new PutBucketVersioningCommand({ Bucket: versioned, VersioningConfiguration: { Status: 'Enabled' } }));
  const bodies = [seededBytes(1000, 61), seededBytes(MiB + 3, 62)];
  const ids: string[] = [];
  for (const body of bodies) {
    const put = await s3.send(new PutObjectCommand({ Bucket: versioned, Key: 'doc', Body: body, ServerSideEncryption: 'AES256' }));
    ids.push(put.VersionId as string);
  }
  const newLine = masterKeyLine(randomBytes(32));
  await writeFile(keys.path, newLine + oldLine + rotatedTo);
  t.ok(await cluster.gateway.reloadMasterKeys());
  const pass = await rotate();
  t.equal(pass.code, 0, `rotate succeeds: ${pass.err}`);
  await writeFile(keys.path, newLine);
  t.ok(await cluster.gateway.reloadMasterKeys(), 'the old key is dropped');
  for (const [i, versionId] of ids.entries()) {
    const got = await s3.send(new GetObjectCommand({ Bucket: versioned, Key: 'doc', VersionId: versionId }));
    t.ok((await collect(got.Body as AsyncIterable<Uint8Array>)).equals(bodies[i] as Buffer), `version ${i + 1} of 2 reads back`);
  }
});
