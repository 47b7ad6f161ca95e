import { t } from 'tap';
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  ListObjectVersionsCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { bucketName, collect } from '../helpers/bytes.js';
import { secondGatewayClient, startCluster, statusOf } from '../helpers/cluster.js';

/**
 * Conditional creates racing through two gateways of one cluster: the check and the commit of each
 * run under the key's lease, so in every round exactly one create wins and the other gets 412.
 */
const ROUNDS = 15;

const cluster = await startCluster({ nodeHealing: false, blockSizeBytes: 64 * 1024, gatewayOverrides: { metadataTimeoutMs: 10_000, stallTimeoutMs: 10_000 } });
t.teardown(() => cluster.close());
const clients: S3Client[] = [cluster.client(), await secondGatewayClient(t, cluster)];
const bucket = bucketName('race');
await clients[0]?.send(new CreateBucketCommand({ Bucket: bucket }));


async function bodyOf(key: string): Promise<string> {
  const got = await clients[0]?.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return (await collect(got?.Body as AsyncIterable<Uint8Array>)).toString();
}

t.test(`PutObject If-None-Match: * from two gateways at once, ${ROUNDS} rounds: exactly one 200 and one 412 each, the winner's body stays`, async (t) => {
  for (let round = 0; round < ROUNDS; round += 1) {
    const key = `put-${round}`;
    const statuses = await Promise.all(
      clients.map((client, i) => statusOf(client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: `gateway ${i}`, IfNoneMatch: '*' })))),
    );
    t.same([...statuses].sort(), [200, 412], `round ${round}: ${statuses.join(' ')}`);
    t.equal(await bodyOf(key), `gateway ${statuses.indexOf(200)}`, `round ${round}: the winner's object`);
  }
});

t.test('CompleteMultipartUpload If-None-Match: * from two gateways at once: one completes, the other gets 412', async (t) => {
  for (let round = 0; round < 5; round += 1) {
    const key = `mpu-${round}`;
    const uploads = await Promise.all(
      clients.map(async (client, i) => {
        const created = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
        const part = await client.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: created.UploadId, PartNumber: 1, Body: `upload ${i}` }));
        return { client, uploadId: created.UploadId, etag: part.ETag };
      }),
    );
    const statuses = await Promise.all(
      uploads.map(({ client, uploadId, etag }) =>
        statusOf(client.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId, IfNoneMatch: '*', MultipartUpload: { Parts: [{ PartNumber: 1, ETag: etag }] } }))),
      ),
    );
    t.same([...statuses].sort(), [200, 412], `round ${round}: ${statuses.join(' ')}`);
    t.equal(await bodyOf(key), `upload ${statuses.indexOf(200)}`);
  }
});

t.test(`a plain CompleteMultipartUpload against PutObject If-None-Match: * through the other gateway, ${ROUNDS} rounds: a create that won is never hidden by a completion it did not see`, async (t) => {
  for (let round = 0; round < ROUNDS; round += 1) {
    const key = `mpu-plain-${round}`;
    const created = await clients[0]?.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
    const part = await clients[0]?.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: created?.UploadId, PartNumber: 1, Body: 'the upload' }));
    const [completed, create] = await Promise.all([
      statusOf(clients[0]?.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: created?.UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part?.ETag }] } })) ?? Promise.resolve()),
      statusOf(clients[1]?.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'the create', IfNoneMatch: '*' })) ?? Promise.resolve()),
    ]);
    t.equal(completed, 200, `round ${round}: the completion succeeds`);
    t.ok(create === 200 || create === 412, `round ${round}: the create answers 200 or 412 (${create})`);
    // A create that won saw no object, so the completion is ordered after it and must be what stays;
    // a create that lost saw the completion's object. Either way the upload's object is the key's.
    t.equal(await bodyOf(key), 'the upload', `round ${round}: create ${create}, the completion's object stays`);
  }
});

t.test('unconditional PUTs of one key through two gateways at once under versioning: both versions kept, exactly one latest', async (t) => {
  const versioned = bucketName('race-ver');
  await clients[0]?.send(new CreateBucketCommand({ Bucket: versioned }));
  await clients[0]?.send(new PutBucketVersioningCommand({ Bucket: versioned, VersioningConfiguration: { Status: 'Enabled' } }));
  for (let round = 0; round < 5; round += 1) {
    const key = `both-${round}`;
    const ids = await Promise.all(clients.map(async (client, i) => (await client.send(new PutObjectCommand({ Bucket: versioned, Key: key, Body: `gateway ${i}` }))).VersionId));
    const listed = await clients[1]?.send(new ListObjectVersionsCommand({ Bucket: versioned, Prefix: key }));
    const versions = listed?.Versions ?? [];
    t.same(new Set(versions.map((v) => v.VersionId)), new Set(ids), `round ${round}: both writes are versions`);
    t.equal(versions.filter((v) => v.IsLatest === true).length, 1, `round ${round}: exactly one is latest`);
  }
});
