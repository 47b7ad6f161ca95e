import { AbortMultipartUploadCommand, CopyObjectCommand, CreateMultipartUploadCommand, GetObjectCommand, PutObjectCommand, UploadPartCopyCommand } from '@aws-sdk/client-s3';
import { t } from 'tap';
import { TEST_CREDENTIALS, clusterWithBucket, localS3Client } from '../helpers/cluster.js';

t.test('GETs racing overwrites of the same key never fail while every node is up (no SDK retries)', async (t) => {
  const { cluster, s3, bucket } = await clusterWithBucket(t);
  // One attempt each: the gateway itself must not answer a racing read with 503.
  const readers = Array.from({ length: 3 }, () => localS3Client(cluster.endpoint, TEST_CREDENTIALS, { maxAttempts: 1 }));
  t.teardown(() => readers.forEach((r) => r.destroy()));
  const written = new Set<string>();
  for (const size of [10, 200_000]) {
    const key = `raced-${size}`;
    const valueOf = (n: number): string => `${String(n).padStart(6, '0')}:${'x'.repeat(size)}`;
    written.add(valueOf(0));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: valueOf(0) }));
    let writing = true;
    const writer = (async () => {
      for (let n = 1; n <= 60; n += 1) {
        written.add(valueOf(n));
        await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: valueOf(n) }));
      }
      writing = false;
    })();
    const failures: string[] = [];
    let reads = 0;
    await Promise.all([
      writer,
      ...readers.map(async (reader) => {
        while (writing) {
          try {
            const got = await reader.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
            const text = await (got.Body as { transformToString(): Promise<string> }).transformToString();
            if (!written.has(text)) failures.push(`read a value never written (${text.slice(0, 10)})`);
            reads += 1;
          } catch (err) {
            failures.push(`${(err as Error).name}: ${(err as Error).message}`);
          }
        }
      }),
    ]);
    t.same(failures, [], `${reads} reads of a ${size}-byte object during 60 overwrites all succeeded`);
  }
});

t.test('CopyObject and UploadPartCopy racing overwrites of their source never fail while every node is up (no SDK retries)', async (t) => {
  const { cluster, s3, bucket } = await clusterWithBucket(t);
  const copiers = Array.from({ length: 3 }, () => localS3Client(cluster.endpoint, TEST_CREDENTIALS, { maxAttempts: 1 }));
  t.teardown(() => copiers.forEach((c) => c.destroy()));
  const size = 200_000;
  const key = 'copy-source';
  const valueOf = (n: number): string => `${String(n).padStart(6, '0')}:${'y'.repeat(size)}`;
  const written = new Set<string>([valueOf(0)]);
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: valueOf(0) }));
  const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'part-copies' }));
  let writing = true;
  const writer = (async () => {
    for (let n = 1; n <= 60; n += 1) {
      written.add(valueOf(n));
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: valueOf(n) }));
    }
    writing = false;
  })();
  const failures: string[] = [];
  let copies = 0;
  await Promise.all([
    writer,
    ...copiers.map(async (copier, c) => {
      let part = 0;
      while (writing) {
        try {
          if (part % 2 === 0) {
            await copier.send(new CopyObjectCommand({ Bucket: bucket, Key: `copy-${c}`, CopySource: `${bucket}/${key}` }));
            const got = await copier.send(new GetObjectCommand({ Bucket: bucket, Key: `copy-${c}` }));
            const text = await (got.Body as { transformToString(): Promise<string> }).transformToString();
            if (!written.has(text)) failures.push(`copied a value never written (${text.slice(0, 10)})`);
          } else {
            await copier.send(new UploadPartCopyCommand({ Bucket: bucket, Key: 'part-copies', UploadId, PartNumber: c * 1000 + part, CopySource: `${bucket}/${key}` }));
          }
          copies += 1;
        } catch (err) {
          failures.push(`${(err as Error).name}: ${(err as Error).message}`);
        }
        part += 1;
      }
    }),
  ]);
  t.same(failures, [], `${copies} copies of a ${size}-byte source during 60 overwrites all succeeded`);
  await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: 'part-copies', UploadId }));
});
