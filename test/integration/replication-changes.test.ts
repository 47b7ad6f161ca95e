import { t } from 'tap';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  HeadObjectCommand,
  PutBucketNotificationConfigurationCommand,
  PutBucketReplicationCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  PutObjectTaggingCommand,
  UploadPartCommand,
  type ReplicationConfiguration,
} from '@aws-sdk/client-s3';
import { runAdminCli } from '../../src/bin/admin-cli.js';
import { NodeClient, type ChangeDestination, type ChangeNote } from '../../src/rpc/index.js';
import { bucketName } from '../helpers/bytes.js';
import { startCluster, writeGatewayConfig } from '../helpers/cluster.js';
import { defineTarget } from '../helpers/event-targets.js';
import { until } from '../helpers/until.js';

/**
 * The source side of bucket replication (docs/replication.md): a write that a replication rule selects
 * carries a change note naming the rule and its destination ARN to the nodes of its key, and its version
 * (or delete marker) is committed PENDING, which HEAD answers as `x-amz-replication-status`. Other
 * writes of the bucket carry no replication destination and show no status. Six nodes under 4+2: every
 * key's set is the whole cluster, so every node logs every change.
 */

const cluster = await startCluster({ nodeHealing: false });
t.teardown(() => cluster.close());
const configPath = await writeGatewayConfig(cluster);
const s3 = cluster.client();
const nodes = cluster.config.nodes.map((node) => new NodeClient({ nodeId: node.id, address: node.address, clusterSecret: cluster.config.clusterSecret, connections: 1 }));
t.teardown(() => Promise.all(nodes.map((node) => node.close())));

let out = '';
let err = '';
const added = await runAdminCli(
  ['target', 'add', 'site-b', '--type', 's3', '--endpoint', 'http://127.0.0.1:9', '--bucket', 'replicas', '--access-key', 'AKIDSITEB', '--secret-key-env', 'SITE_B_SECRET', '--config', configPath],
  { SITE_B_SECRET: 'site-b-secret-key' },
  { stdout: (s) => void (out += s), stderr: (s) => void (err += s) },
);
if (added !== 0) throw new Error(`tessera admin target add exited ${added}: ${err}`);
const siteB = out.trim();
// A webhook nothing listens on: every change of the bucket is also an event that stays logged, so the
// checks read each note however far the delivery of its replication destination went.
const hook = await defineTarget(nodes, 'hook', { type: 'webhook', url: 'http://127.0.0.1:9/' });
const EVENTS: ChangeDestination = { configurationId: 'everything', arn: hook };
const MODELS: ChangeDestination = { configurationId: 'models', arn: siteB };
const GOLD: ChangeDestination = { configurationId: 'gold', arn: siteB };

const REPLICATION: ReplicationConfiguration = {
  Role: 'arn:aws:iam::123456789012:role/replication',
  Rules: [
    { ID: 'models', Priority: 2, Status: 'Enabled', Filter: { Prefix: 'models/' }, DeleteMarkerReplication: { Status: 'Enabled' }, Destination: { Bucket: siteB } },
    {
      ID: 'gold',
      Priority: 1,
      Status: 'Enabled',
      Filter: { And: { Prefix: 'logs/', Tags: [{ Key: 'tier', Value: 'gold' }] } },
      DeleteMarkerReplication: { Status: 'Disabled' },
      Destination: { Bucket: siteB },
    },
  ],
};

async function replicatedBucket(withEvents: boolean): Promise<string> {
  const bucket = bucketName('replsrc');
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  await s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
  await s3.send(new PutBucketReplicationCommand({ Bucket: bucket, ReplicationConfiguration: REPLICATION }));
  if (withEvents) {
    await s3.send(
      new PutBucketNotificationConfigurationCommand({
        Bucket: bucket,
        NotificationConfiguration: { QueueConfigurations: [{ Id: 'everything', QueueArn: hook, Events: ['s3:ObjectCreated:*', 's3:ObjectRemoved:*', 's3:ObjectTagging:*'] }] },
      }),
    );
  }
  return bucket;
}

async function statusOf(bucket: string, key: string, versionId?: string): Promise<string | undefined> {
  return (await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key, VersionId: versionId }))).ReplicationStatus;
}

/** What one node logged of `bucket`: each change's key, event, version and destinations, in the node's order. */
async function loggedOn(node: NodeClient, bucket: string): Promise<{ key: string; note: ChangeNote }[]> {
  const found: { key: string; note: ChangeNote }[] = [];
  let after: string | undefined;
  for (;;) {
    const changes = await node.listChanges({ after, limit: 500 });
    for (const change of changes) if (change.bucket === bucket) found.push({ key: change.key, note: change.note });
    const last = changes.at(-1);
    if (changes.length < 500 || last === undefined) return found;
    after = last.seq;
  }
}

t.test('a write a rule selects is PENDING and its note names the rule and the destination; others carry events only', async (t) => {
  const bucket = await replicatedBucket(true);
  const model = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'models/a', Body: 'weights' }));
  const other = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'other/b', Body: 'not replicated' }));
  const gold = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'logs/x', Body: 'gold', Tagging: 'tier=gold' }));
  const plain = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'logs/y', Body: 'plain', Tagging: 'tier=silver' }));
  const copied = await s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'models/copy', CopySource: `${bucket}/other/b` }));
  const upload = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'models/big' }));
  const part = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'models/big', UploadId: upload.UploadId, PartNumber: 1, Body: 'one part' }));
  const completed = await s3.send(
    new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'models/big', UploadId: upload.UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] } }),
  );
  t.equal(await statusOf(bucket, 'models/a'), 'PENDING', 'selected by prefix');
  t.equal(await statusOf(bucket, 'logs/x'), 'PENDING', 'selected by prefix and tag');
  t.equal(await statusOf(bucket, 'models/copy'), 'PENDING', 'a copy is a new version');
  t.equal(await statusOf(bucket, 'models/big'), 'PENDING', 'a completed multipart upload');
  t.equal(await statusOf(bucket, 'other/b'), undefined, 'no rule selects the key');
  t.equal(await statusOf(bucket, 'logs/y'), undefined, 'the tag filter does not select it');

  // Tag changes: of a replicated version (it leaves the tag filter, and still follows the version there), of one never replicated.
  const retagged = await s3.send(new PutObjectTaggingCommand({ Bucket: bucket, Key: 'logs/x', VersionId: gold.VersionId, Tagging: { TagSet: [{ Key: 'tier', Value: 'bronze' }] } }));
  await s3.send(new PutObjectTaggingCommand({ Bucket: bucket, Key: 'logs/y', VersionId: plain.VersionId, Tagging: { TagSet: [{ Key: 'tier', Value: 'gold' }] } }));
  // Delete markers: the models rule sends them, the gold rule does not; a delete by version id never replicates.
  const marker = await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'models/a' }));
  await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'logs/x' }));
  await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'models/copy', VersionId: copied.VersionId }));
  t.equal(await statusOf(bucket, 'models/a', model.VersionId), 'PENDING', 'the older version keeps its status');
  const markerOn = async (node: NodeClient, key: string, versionId: string | undefined): Promise<string | undefined> =>
    (await node.versionStatus(bucket, key, versionId ?? ''))?.record.replicationStatus;
  t.same(await Promise.all(nodes.map((node) => markerOn(node, 'models/a', marker.VersionId))), nodes.map(() => 'PENDING'), 'a delete marker the rule sends is PENDING on every node');

  const expected = [
    { key: 'models/a', eventName: 's3:ObjectCreated:Put', versionId: model.VersionId, destinations: [EVENTS, MODELS] },
    { key: 'other/b', eventName: 's3:ObjectCreated:Put', versionId: other.VersionId, destinations: [EVENTS] },
    { key: 'logs/x', eventName: 's3:ObjectCreated:Put', versionId: gold.VersionId, destinations: [EVENTS, GOLD] },
    { key: 'logs/y', eventName: 's3:ObjectCreated:Put', versionId: plain.VersionId, destinations: [EVENTS] },
    { key: 'models/copy', eventName: 's3:ObjectCreated:Copy', versionId: copied.VersionId, destinations: [EVENTS, MODELS] },
    { key: 'models/big', eventName: 's3:ObjectCreated:CompleteMultipartUpload', versionId: completed.VersionId, destinations: [EVENTS, MODELS] },
    { key: 'logs/x', eventName: 's3:ObjectTagging:Put', versionId: retagged.VersionId, destinations: [EVENTS, GOLD] },
    { key: 'logs/y', eventName: 's3:ObjectTagging:Put', versionId: plain.VersionId, destinations: [EVENTS] },
    { key: 'models/a', eventName: 's3:ObjectRemoved:DeleteMarkerCreated', versionId: marker.VersionId, destinations: [EVENTS, MODELS] },
    { key: 'logs/x', eventName: 's3:ObjectRemoved:DeleteMarkerCreated', destinations: [EVENTS] },
    { key: 'models/copy', eventName: 's3:ObjectRemoved:Delete', versionId: copied.VersionId, destinations: [EVENTS] },
  ];
  const byKey = (list: readonly { key: string; eventName: string }[]): string[] => list.map(({ key, eventName }) => `${key} ${eventName}`).sort();
  let logs: { key: string; note: ChangeNote }[][] = [];
  await until('every node logged every change', async () => {
    logs = await Promise.all(nodes.map((node) => loggedOn(node, bucket)));
    return logs.every((log) => log.length >= expected.length);
  }, 30_000);
  for (const [i, log] of logs.entries()) {
    const seen = log.map(({ key, note }) => ({ key, eventName: note.eventName, versionId: note.versionId, destinations: note.destinations }));
    t.same(byKey(seen), byKey(expected), `node ${i} logged each change once`);
    for (const want of expected) {
      const got = seen.find((entry) => entry.key === want.key && entry.eventName === want.eventName);
      t.same(got?.destinations, want.destinations, `node ${i}: ${want.key} ${want.eventName} goes to ${want.destinations.map((d) => d.configurationId).join(', ')}`);
      if (want.versionId !== undefined) t.equal(got?.versionId, want.versionId, `node ${i}: ${want.key} ${want.eventName} names its version`);
    }
  }
});

t.test('without notification rules a selected write is still PENDING, and a bucket with neither configuration shows no status', async (t) => {
  const bucket = await replicatedBucket(false);
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'models/only-replication', Body: 'x' }));
  t.equal(await statusOf(bucket, 'models/only-replication'), 'PENDING');
  const marker = await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'models/only-replication' }));
  t.equal(marker.DeleteMarker, true);
  const plainBucket = bucketName('replnone');
  await s3.send(new CreateBucketCommand({ Bucket: plainBucket }));
  await s3.send(new PutObjectCommand({ Bucket: plainBucket, Key: 'models/a', Body: 'x' }));
  t.equal(await statusOf(plainBucket, 'models/a'), undefined);
});

t.test("a replica's changes never replicate again: its version is REPLICA and its notes carry events only", async (t) => {
  const bucket = await replicatedBucket(true);
  const replica = { 'x-tessera-replica': 'true' };
  const put = new PutObjectCommand({ Bucket: bucket, Key: 'models/replica', Body: 'from site b' });
  put.middlewareStack.add((next) => async (args) => (Object.assign((args.request as { headers: Record<string, string> }).headers, replica), next(args)), { step: 'build' });
  const written = await s3.send(put);
  t.equal(await statusOf(bucket, 'models/replica'), 'REPLICA', 'not PENDING, though the models rule selects the key');
  await s3.send(new PutObjectTaggingCommand({ Bucket: bucket, Key: 'models/replica', VersionId: written.VersionId, Tagging: { TagSet: [{ Key: 'tier', Value: 'gold' }] } }));
  const remove = new DeleteObjectCommand({ Bucket: bucket, Key: 'models/replica' });
  remove.middlewareStack.add((next) => async (args) => (Object.assign((args.request as { headers: Record<string, string> }).headers, replica), next(args)), { step: 'build' });
  const removed = await s3.send(remove);
  t.equal((await nodes[0]?.versionStatus(bucket, 'models/replica', removed.VersionId ?? ''))?.record.replicationStatus, 'REPLICA', "the replica's delete marker is REPLICA");
  const events = ['s3:ObjectCreated:Put', 's3:ObjectRemoved:DeleteMarkerCreated', 's3:ObjectTagging:Put'];
  let logs: { key: string; note: ChangeNote }[][] = [];
  await until('every node logged the three changes', async () => {
    logs = await Promise.all(nodes.map((node) => loggedOn(node, bucket)));
    return logs.every((log) => log.length >= events.length);
  }, 30_000);
  for (const [i, log] of logs.entries()) {
    t.same(log.map(({ note }) => note.eventName).sort(), [...events].sort(), `node ${i} logged each change`);
    t.ok(log.every(({ note }) => note.destinations.length === 1 && note.destinations[0]?.configurationId === 'everything'), `node ${i}: to the event target only`);
  }
});
