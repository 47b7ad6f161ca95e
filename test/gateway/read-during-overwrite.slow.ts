import { AbortMultipartUploadCommand, CopyObjectCommand, CreateMultipartUploadCommand, GetObjectCommand, PutObjectCommand, UploadPartCopyCommand, type S3Client } from '@aws-sdk/client-s3';
import { t } from 'tap';
import { TEST_CREDENTIALS, clusterWithBucket, localS3Client } from '../helpers/cluster.js';

const OVERWRITES = 60;

/**
 * Writes bucket/key once, then overwrites it OVERWRITES times while each of `clients` runs `step` in a
 * loop; answers how many steps succeeded and what failed. `written` holds every value ever written, so a
 * step can check that what it read is one of them.
 */
async function raceOverwrites(
  s3: S3Client,
  bucket: string,
  key: string,
  valueOf: (n: number) => string,
  clients: readonly S3Client[],
  step: (client: S3Client, index: number, round: number, written: ReadonlySet<string>) => Promise<string | undefined>,
): Promise<{ done: number; failures: string[] }> {
  const written = new Set<string>([valueOf(0)]);
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: valueOf(0) }));
  let writing = true;
  const writer = (async () => {
    for (let n = 1; n <= OVERWRITES; n += 1) {
      written.add(valueOf(n));
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: valueOf(n) }));
    }
    writing = false;
  })();
  const failures: string[] = [];
  let done = 0;
  await Promise.all([
    writer,
    ...clients.map(async (client, index) => {
      for (let round = 0; writing; round += 1) {
        try {
          const problem = await step(client, index, round, written);
          if (problem !== undefined) failures.push(problem);
          done += 1;
        } catch (err) {
          failures.push(`${(err as Error).name}: ${(err as Error).message}`);
        }
      }
    }),
  ]);
  return { done, failures };
}

async function text(got: { Body?: unknown }): Promise<string> {
  return (got.Body as { transformToString(): Promise<string> }).transformToString();
}

t.test('GETs racing overwrites of the same key never fail while every node is up (no SDK retries)', async (t) => {
  const { cluster, s3, bucket } = await clusterWithBucket(t);
  // One attempt each: the gateway itself must not answer a racing read with 503.
  const readers = Array.from({ length: 3 }, () => localS3Client(cluster.endpoint, TEST_CREDENTIALS, { maxAttempts: 1 }));
  t.teardown(() => readers.forEach((r) => r.destroy()));
  for (const size of [10, 200_000]) {
    const key = `raced-${size}`;
    const valueOf = (n: number): string => `${String(n).padStart(6, '0')}:${'x'.repeat(size)}`;
    const { done, failures } = await raceOverwrites(s3, bucket, key, valueOf, readers, async (reader, _index, _round, written) => {
      const read = await text(await reader.send(new GetObjectCommand({ Bucket: bucket, Key: key })));
      return written.has(read) ? undefined : `read a value never written (${read.slice(0, 10)})`;
    });
    t.same(failures, [], `${done} reads of a ${size}-byte object during ${OVERWRITES} overwrites all succeeded`);
  }
});

t.test('CopyObject and UploadPartCopy racing overwrites of their source never fail while every node is up (no SDK retries)', async (t) => {
  const { cluster, s3, bucket } = await clusterWithBucket(t);
  const copiers = Array.from({ length: 3 }, () => localS3Client(cluster.endpoint, TEST_CREDENTIALS, { maxAttempts: 1 }));
  t.teardown(() => copiers.forEach((c) => c.destroy()));
  const size = 200_000;
  const key = 'copy-source';
  const valueOf = (n: number): string => `${String(n).padStart(6, '0')}:${'y'.repeat(size)}`;
  const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'part-copies' }));
  const { done, failures } = await raceOverwrites(s3, bucket, key, valueOf, copiers, async (copier, c, round, written) => {
    if (round % 2 === 1) {
      await copier.send(new UploadPartCopyCommand({ Bucket: bucket, Key: 'part-copies', UploadId, PartNumber: c * 1000 + round, CopySource: `${bucket}/${key}` }));
      return undefined;
    }
    await copier.send(new CopyObjectCommand({ Bucket: bucket, Key: `copy-${c}`, CopySource: `${bucket}/${key}` }));
    const copied = await text(await copier.send(new GetObjectCommand({ Bucket: bucket, Key: `copy-${c}` })));
    return written.has(copied) ? undefined : `copied a value never written (${copied.slice(0, 10)})`;
  });
  t.same(failures, [], `${done} copies of a ${size}-byte source during ${OVERWRITES} overwrites all succeeded`);
  await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: 'part-copies', UploadId }));
});
