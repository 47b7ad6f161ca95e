import { t } from 'tap';
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  GetBucketPolicyCommand,
  HeadBucketCommand,
  ListObjectVersionsCommand,
  PutBucketPolicyCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { bucketName } from '../helpers/bytes.js';
import { addUser, localS3Client, startCluster, startSecondGateway, statusOf, TEST_CREDENTIALS, writeGatewayConfig } from '../helpers/cluster.js';
import { sdkError } from '../gateway/raw-s3.js';

/**
 * A bucket's record changes (create, configuration, delete) through two gateways, each with its own
 * cache of bucket records: changes of one name are ordered, and a change is of the bucket it was
 * authorised against, never of a later bucket of the same name.
 */
const cluster = await startCluster({ nodeHealing: false });
t.teardown(() => cluster.close());
const configFile = await writeGatewayConfig(cluster);
const second = await startSecondGateway(t, cluster);

const clients: S3Client[] = [];
t.teardown(() => clients.forEach((c) => c.destroy()));
function clientOf(endpoint: string, keys: { accessKeyId: string; secretAccessKey: string }): S3Client {
  const client = localS3Client(endpoint, keys, { maxAttempts: 1 });
  clients.push(client);
  return client;
}

/** A user's clients of the first and the second gateway. */
async function user(name: string): Promise<{ first: S3Client; second: S3Client }> {
  const keys = await addUser(configFile, name);
  return { first: clientOf(cluster.endpoint, keys), second: clientOf(second, keys) };
}

const alice = await user('alice');
const bob = await user('bob');
const admin = { first: clientOf(cluster.endpoint, { ...TEST_CREDENTIALS }), second: clientOf(second, { ...TEST_CREDENTIALS }) };

t.test('two users creating one name at once through two gateways: one creates it, the other is told it exists', async (t) => {
  for (let round = 0; round < 10; round += 1) {
    const name = bucketName('race');
    const statuses = await Promise.all([statusOf(alice.first.send(new CreateBucketCommand({ Bucket: name }))), statusOf(bob.second.send(new CreateBucketCommand({ Bucket: name })))]);
    t.same([...statuses].sort(), [200, 409], `round ${round}: ${statuses.join(', ')}`);
  }
});

t.test('DeleteBucket through a gateway that has not seen versioning enabled keeps a bucket that holds versions', async (t) => {
  const name = bucketName('versions');
  await admin.second.send(new CreateBucketCommand({ Bucket: name }));
  await admin.first.send(new HeadBucketCommand({ Bucket: name }));
  await admin.second.send(new PutBucketVersioningCommand({ Bucket: name, VersioningConfiguration: { Status: 'Enabled' } }));
  await admin.second.send(new PutObjectCommand({ Bucket: name, Key: 'doc', Body: 'kept' }));
  await admin.second.send(new DeleteObjectCommand({ Bucket: name, Key: 'doc' }));
  t.same(await sdkError(admin.first.send(new DeleteBucketCommand({ Bucket: name }))), { name: 'BucketNotEmpty', status: 409 });
  const versions = await admin.second.send(new ListObjectVersionsCommand({ Bucket: name }));
  t.equal(versions.Versions?.length, 1, 'the version is still there');
  t.equal(versions.DeleteMarkers?.length, 1, 'and its delete marker');
});

t.test("a user whose bucket was deleted and taken by another user cannot change or delete the new one through a gateway that still has the old one", async (t) => {
  const name = bucketName('taken');
  await alice.second.send(new CreateBucketCommand({ Bucket: name }));
  await alice.first.send(new HeadBucketCommand({ Bucket: name }));
  await alice.second.send(new DeleteBucketCommand({ Bucket: name }));
  await bob.second.send(new CreateBucketCommand({ Bucket: name }));
  const policy = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${name}/*` }] });
  t.same(await sdkError(alice.first.send(new PutBucketPolicyCommand({ Bucket: name, Policy: policy }))), { name: 'NoSuchBucket', status: 404 }, 'the policy change is refused');
  t.same(await sdkError(alice.first.send(new DeleteBucketCommand({ Bucket: name }))), { name: 'NoSuchBucket', status: 404 }, 'the delete is refused');
  t.equal(await statusOf(bob.second.send(new HeadBucketCommand({ Bucket: name }))), 200, "bob's bucket is still there");
  t.same(await sdkError(bob.second.send(new GetBucketPolicyCommand({ Bucket: name }))), { name: 'NoSuchBucketPolicy', status: 404 }, 'with no policy');
});
