import { t, type Test } from 'tap';
import {
  CreateBucketCommand,
  GetObjectLegalHoldCommand,
  GetObjectRetentionCommand,
  GetObjectTaggingCommand,
  PutObjectCommand,
  PutObjectLegalHoldCommand,
  PutObjectRetentionCommand,
  PutObjectTaggingCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { bucketName } from '../helpers/bytes.js';
import { secondGatewayClient, startCluster, statusOf } from '../helpers/cluster.js';

/**
 * PutObjectRetention racing itself through two gateways of one cluster: retention still running may
 * only be extended (GOVERNANCE: unless the bypass is sent), so when +4h and +3h are sent at once over a
 * base of +2h, the +4h always succeeds and stays, and the +3h either lands first or is refused; never
 * do both answer 200 and leave +3h. A legal hold or tags set at the same time survive the retention
 * change: tags, ACL, retention and legal hold share one revision, so each change takes the key's lease.
 */
const ROUNDS = 15;
const HOUR_MS = 3_600_000;

const cluster = await startCluster({ blockSizeBytes: 64 * 1024, gatewayOverrides: { metadataTimeoutMs: 10_000, stallTimeoutMs: 10_000 } });
t.teardown(() => cluster.close());
const clients: S3Client[] = [cluster.client(), await secondGatewayClient(t, cluster)];
const s3 = clients[0] as S3Client;
const bucket = bucketName('retrace');
await s3.send(new CreateBucketCommand({ Bucket: bucket, ObjectLockEnabledForBucket: true }));


/** A new locked version of `key` retained until `untilMs`; its version id. */
async function lockedVersion(key: string, mode: 'COMPLIANCE' | 'GOVERNANCE', untilMs: number): Promise<string> {
  const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'x', ObjectLockMode: mode, ObjectLockRetainUntilDate: new Date(untilMs) }));
  return put.VersionId as string;
}

function putRetention(client: S3Client, key: string, versionId: string, mode: 'COMPLIANCE' | 'GOVERNANCE', untilMs: number): Promise<number> {
  return statusOf(client.send(new PutObjectRetentionCommand({ Bucket: bucket, Key: key, VersionId: versionId, Retention: { Mode: mode, RetainUntilDate: new Date(untilMs) } })));
}

async function retainUntilMs(key: string, versionId: string): Promise<number | undefined> {
  const got = await s3.send(new GetObjectRetentionCommand({ Bucket: bucket, Key: key, VersionId: versionId }));
  return got.Retention?.RetainUntilDate?.getTime();
}

for (const mode of ['COMPLIANCE', 'GOVERNANCE'] as const) {
  t.test(`${mode}: +4h and +3h over +2h from two gateways at once, ${ROUNDS} rounds: +4h answers 200 and stays`, async (t) => {
    const nowMs = Math.floor(Date.now() / 1000) * 1000;
    let shortened = 0;
    for (let round = 0; round < ROUNDS; round += 1) {
      const key = `${mode}-${round}`;
      const versionId = await lockedVersion(key, mode, nowMs + 2 * HOUR_MS);
      // Each gateway sends each change in turn, so neither gateway's clock always takes the later revision.
      const [longer, shorter] = round % 2 === 0 ? [clients[0], clients[1]] : [clients[1], clients[0]];
      const [longStatus, shortStatus] = await Promise.all([
        putRetention(longer as S3Client, key, versionId, mode, nowMs + 4 * HOUR_MS),
        putRetention(shorter as S3Client, key, versionId, mode, nowMs + 3 * HOUR_MS),
      ]);
      const final = await retainUntilMs(key, versionId);
      if (final !== nowMs + 4 * HOUR_MS) shortened += 1;
      t.equal(longStatus, 200, `round ${round}: +4h extends either`);
      t.ok(shortStatus === 200 || shortStatus === 403, `round ${round}: +3h lands first or is refused (${shortStatus})`);
      t.equal(final, nowMs + 4 * HOUR_MS, `round ${round}: +4h stays (+3h answered ${shortStatus})`);
    }
    t.equal(shortened, 0, 'no round shortened the retention');
  });
}

/** Another in-place change sent beside a retention extension, and what must show afterwards that it stayed. */
interface BesideChange {
  name: string;
  send(client: S3Client, key: string, versionId: string, round: number): Promise<unknown>;
  stayed(t: Test, key: string, versionId: string, round: number): Promise<void>;
}

const BESIDE: BesideChange[] = [
  {
    name: 'a legal hold',
    send: (client, key, versionId) => client.send(new PutObjectLegalHoldCommand({ Bucket: bucket, Key: key, VersionId: versionId, LegalHold: { Status: 'ON' } })),
    async stayed(t, key, versionId, round) {
      const held = await s3.send(new GetObjectLegalHoldCommand({ Bucket: bucket, Key: key, VersionId: versionId }));
      t.equal(held.LegalHold?.Status, 'ON', `round ${round}: the legal hold stays`);
    },
  },
  {
    name: 'PutObjectTagging',
    send: (client, key, versionId, round) => client.send(new PutObjectTaggingCommand({ Bucket: bucket, Key: key, VersionId: versionId, Tagging: { TagSet: [{ Key: 'round', Value: String(round) }] } })),
    async stayed(t, key, versionId, round) {
      const tags = await s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: key, VersionId: versionId }));
      t.same(tags.TagSet, [{ Key: 'round', Value: String(round) }], `round ${round}: the tags stay`);
    },
  },
];

for (const change of BESIDE) {
  t.test(`${change.name} and a retention extension at once, ${ROUNDS} rounds: both stay (they share one revision)`, async (t) => {
    const nowMs = Math.floor(Date.now() / 1000) * 1000;
    for (let round = 0; round < ROUNDS; round += 1) {
      const key = `${change.name.replace(/\W+/g, '-')}-${round}`;
      const versionId = await lockedVersion(key, 'COMPLIANCE', nowMs + 2 * HOUR_MS);
      const [retention, other] = round % 2 === 0 ? [clients[0], clients[1]] : [clients[1], clients[0]];
      const statuses = await Promise.all([
        putRetention(retention as S3Client, key, versionId, 'COMPLIANCE', nowMs + 4 * HOUR_MS),
        statusOf(change.send(other as S3Client, key, versionId, round)),
      ]);
      t.same(statuses, [200, 200], `round ${round}: both answer 200`);
      t.equal(await retainUntilMs(key, versionId), nowMs + 4 * HOUR_MS, `round ${round}: the extension stays`);
      await change.stayed(t, key, versionId, round);
    }
  });
}
