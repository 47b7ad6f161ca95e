import type { Readable } from 'node:stream';
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  ListMultipartUploadsCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { t } from 'tap';
import { bucketName, collect, seededBytes } from '../helpers/bytes.js';
import { localS3Client, statusOf, TEST_CREDENTIALS } from '../helpers/cluster.js';
import { slowCluster } from '../helpers/slow-link.js';
import { sdkError } from '../gateway/raw-s3.js';

/**
 * A completion whose gateway stops after the manifest and before the closing marker leaves the object
 * visible and its upload open. The nodes' links cut every request that carries a completed upload's
 * closing marker, which leaves exactly that state without a gateway having to die at the right moment.
 */
const { links, endpoint } = await slowCluster(t, 5_000);
const s3 = localS3Client(endpoint, TEST_CREDENTIALS, { maxAttempts: 1 });
t.teardown(() => s3.destroy());
const bucket = bucketName('completing');
await s3.send(new CreateBucketCommand({ Bucket: bucket }));

t.test('after a completion stopped between its manifest and its closing marker, no part the object uses is replaced, and completing again closes the upload', async (t) => {
  const key = 'object';
  const first = seededBytes(5 * 1024 * 1024, 1);
  const second = seededBytes(1000, 2);
  const { UploadId = '' } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
  const Parts: { PartNumber: number; ETag: string }[] = [];
  for (const [i, body] of [first, second].entries()) {
    const { ETag = '' } = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: i + 1, Body: body }));
    Parts.push({ PartNumber: i + 1, ETag });
  }
  const complete = (): CompleteMultipartUploadCommand => new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId, MultipartUpload: { Parts } });
  const object = async (): Promise<Buffer> => collect((await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body as Readable);
  const listed = async (): Promise<boolean> => ((await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }))).Uploads ?? []).some((u) => u.UploadId === UploadId);

  for (const link of links) link.cutRequestsWith = '"closed":"completed"';
  t.equal(await statusOf(s3.send(complete())), 503, 'the completion could not close its upload');
  for (const link of links) link.cutRequestsWith = undefined;
  t.ok((await object()).equals(Buffer.concat([first, second])), 'its manifest was written: the object reads back');
  t.ok(await listed(), 'and the upload is still open');

  const again = s3.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: 1, Body: seededBytes(5 * 1024 * 1024, 3) }));
  t.equal((await sdkError(again)).name, 'OperationAborted', 'a part uploaded again, which would replace the bytes of the object\'s first part, is refused');
  t.ok((await object()).equals(Buffer.concat([first, second])), 'the object is whole');

  const completed = await s3.send(complete());
  t.match(completed.ETag, /-2"$/, 'completing again answers as the first completion would have');
  t.notOk(await listed(), 'and closes the upload');
  t.ok((await object()).equals(Buffer.concat([first, second])), 'the object is still the one first completed');
});

t.test('an upload whose completion stopped before its manifest is completed by the next completion', async (t) => {
  const key = 'unwritten';
  const body = seededBytes(1000, 4);
  const { UploadId = '' } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
  const { ETag = '' } = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: 1, Body: body }));
  const complete = new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag }] } });
  // Every manifest is cut: the completion stops after its intent.
  for (const link of links) link.cutRequestsWith = '"parts":[';
  t.equal(await statusOf(s3.send(complete)), 503, 'the completion wrote its intent, not its manifest');
  for (const link of links) link.cutRequestsWith = undefined;
  t.equal((await sdkError(s3.send(new GetObjectCommand({ Bucket: bucket, Key: key })))).name, 'NoSuchKey', 'no object');
  t.match((await s3.send(complete)).ETag, /-1"$/, 'completing again writes it');
  t.ok((await collect((await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body as Readable)).equals(body));
});
