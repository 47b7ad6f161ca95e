// The load soak: 64 SDK clients mix PUT, GET, LIST, multipart and DELETE against `tessera dev` (the
// embedded default) while two CPU-burning processes compete for the machine's cores. Every request
// must succeed within the SDK's standard retries, and at the end every object each client believes
// exists must read back byte for byte, and nothing it deleted may be listed. Part of
// `npm run test:extended` (60 s) and `npm run test:endurance` (300 s); SOAK_SECONDS sets how long the mixed load runs.
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { t } from 'tap';
import { collect, md5Hex, seededBytes, seededRandom } from '../helpers/bytes.js';
import { startCpuHogs } from '../helpers/cpu-hogs.js';
import { startDevServer } from '../helpers/server.js';

const CLIENTS = 64;
const LOAD_MS = Number(process.env['SOAK_SECONDS'] ?? 60) * 1000;
const PART_BYTES = 5 * 1024 * 1024;

interface Tally {
  requests: number;
  byOp: Record<string, number>;
}

t.test('64 clients mixing every operation on a machine whose cores are taken: no request fails, every object verifies', async (t) => {
  const server = await startDevServer(t);
  // One per core: the busy machine the gateway and nodes must live with.
  const stopHogs = startCpuHogs(2);
  t.teardown(stopHogs);
  const clients = Array.from(
    { length: CLIENTS },
    () =>
      new S3Client({
        endpoint: server.endpoint,
        region: server.region,
        forcePathStyle: true,
        credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
      }),
  );
  t.teardown(() => clients.forEach((c) => c.destroy()));
  const bucket = 'soak';
  await (clients[0] as S3Client).send(new CreateBucketCommand({ Bucket: bucket }));
  const tally: Tally = { requests: 0, byOp: {} };
  const count = (op: string): void => {
    tally.requests += 1;
    tally.byOp[op] = (tally.byOp[op] ?? 0) + 1;
  };
  const endAt = Date.now() + LOAD_MS;
  const expected = clients.map(() => new Map<string, string>());
  const deleted = clients.map(() => new Set<string>());

  const runClient = async (index: number): Promise<void> => {
    const s3 = clients[index] as S3Client;
    const mine = expected[index] as Map<string, string>;
    const gone = deleted[index] as Set<string>;
    const next = seededRandom(index + 1);
    let serial = 0;
    while (Date.now() < endAt) {
      const roll = next();
      const keys = [...mine.keys()];
      const existing = keys.length === 0 ? undefined : keys[Math.floor(next() * keys.length)];
      if (roll < 0.4 || existing === undefined) {
        serial += 1;
        const key = `c${index}/o${serial}`;
        const sizeBytes = next() < 0.8 ? 1 + Math.floor(next() * 64 * 1024) : 256 * 1024 + Math.floor(next() * 1024 * 1024);
        const body = seededBytes(sizeBytes, index * 1_000_003 + serial);
        await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
        count('put');
        mine.set(key, md5Hex(body));
        gone.delete(key);
      } else if (roll < 0.7) {
        const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: existing }));
        const digest = md5Hex(await collect(got.Body as AsyncIterable<Uint8Array>));
        count('get');
        if (digest !== mine.get(existing)) throw new Error(`${existing} read back wrong bytes`);
      } else if (roll < 0.8) {
        const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `c${index}/` }));
        count('list');
        const names = new Set((listed.Contents ?? []).map((o) => o.Key));
        for (const key of mine.keys()) if (!names.has(key)) throw new Error(`${key} missing from its listing`);
        for (const key of gone) if (names.has(key)) throw new Error(`deleted ${key} still listed`);
      } else if (roll < 0.9) {
        await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: existing }));
        count('delete');
        mine.delete(existing);
        gone.add(existing);
      } else if (next() < 0.25) {
        serial += 1;
        const key = `c${index}/m${serial}`;
        const parts = [seededBytes(PART_BYTES, index * 7 + serial), seededBytes(1 + Math.floor(next() * 100_000), index * 11 + serial)];
        const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
        const etags: string[] = [];
        for (const [i, part] of parts.entries()) {
          const { ETag } = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: i + 1, Body: part }));
          etags.push(ETag as string);
        }
        await s3.send(
          new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId, MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) } }),
        );
        count('multipart');
        mine.set(key, md5Hex(Buffer.concat(parts)));
        gone.delete(key);
      }
    }
  };

  const startedMs = Date.now();
  const results = await Promise.allSettled(clients.map((_, i) => runClient(i)));
  const failures = results.flatMap((r, i) => (r.status === 'rejected' ? [`client ${i}: ${(r.reason as Error).name}: ${(r.reason as Error).message}`] : []));
  t.comment(`${tally.requests} operations in ${Math.round((Date.now() - startedMs) / 1000)} s: ${JSON.stringify(tally.byOp)}`);
  t.same(failures, [], 'no request failed after the SDK retries');
  stopHogs();

  let verified = 0;
  const s3 = clients[0] as S3Client;
  for (const [index, mine] of expected.entries()) {
    for (const [key, digest] of mine) {
      const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      if (md5Hex(await collect(got.Body as AsyncIterable<Uint8Array>)) === digest) verified += 1;
      else t.fail(`${key} reads back wrong bytes`);
    }
    const listed = new Set<string>();
    let token: string | undefined;
    do {
      const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `c${index}/`, ContinuationToken: token }));
      for (const o of page.Contents ?? []) listed.add(o.Key as string);
      token = page.NextContinuationToken;
    } while (token !== undefined);
    t.same([...listed].sort(), [...mine.keys()].sort(), `client ${index}: the listing is exactly its live objects`);
  }
  t.equal(verified, expected.reduce((n, m) => n + m.size, 0), `all ${verified} objects verified byte for byte`);
});
