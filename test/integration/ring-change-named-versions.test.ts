import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  PutObjectLockConfigurationCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { t } from 'tap';
import { bucketName } from '../helpers/bytes.js';
import { RingChangeCluster } from '../helpers/ring-change.js';

// Lookups and deletes of one version by its id while a ring change moves the key: twelve real nodes,
// ring 1 on six of them, ring 2 on all twelve, and nothing moved yet (the nodes' background work is
// off), so every version written before the change sits only on the key's old set.

/** How often each lookup is repeated: a wrong answer depended on which nodes answered first. */
const ROUNDS = 8;

const cluster = await RingChangeCluster.start(t);
const { ring1, ring2 } = cluster;
const first = await cluster.gateway({ rings: [ring1] });
const second = await cluster.gateway({ rings: [ring1] });
// Keeps bucket records for ten minutes: it does not see Object Lock enabled through another gateway.
const stale = await cluster.gateway({ rings: [ring1] }, { bucketCacheTtlMs: 600_000 });
const s3 = first.s3;

/** A request's outcome: its HTTP status and, for an error answer, the S3 code (a HEAD's has no body: the SDK names it by status). */
async function outcome(work: Promise<unknown>): Promise<string> {
  try {
    const answer = (await work) as { Body?: { transformToString(): Promise<string> } } | undefined;
    // A body not read yet is read, so its connection is free for the next request.
    await answer?.Body?.transformToString();
    return '200';
  } catch (err) {
    const { name, $metadata } = err as { name?: string; $metadata?: { httpStatusCode?: number } };
    // An error that is not an answer (a check of the body) says what it found.
    return $metadata?.httpStatusCode === undefined ? `failed: ${(err as Error).message}` : `${$metadata.httpStatusCode} ${name}`;
  }
}

/** `ROUNDS` outcomes of `request` on each of `clients`. */
async function repeated(clients: readonly S3Client[], request: (client: S3Client) => Promise<unknown>): Promise<string[]> {
  const outcomes: string[] = [];
  for (const client of clients) for (let round = 0; round < ROUNDS; round += 1) outcomes.push(await outcome(request(client)));
  return outcomes;
}

function times(count: number, value: string): string[] {
  return Array.from({ length: count }, () => value);
}

/** The nodes of `ids` that hold `versionId` of the key (`null`: its null version). */
async function holding(ids: readonly string[], bucket: string, key: string, versionId: string): Promise<string[]> {
  const answers = await Promise.all(ids.map(async (id) => ((await cluster.client(id).versionStatus(bucket, key, versionId)) === null ? [] : [id])));
  return answers.flat();
}

/** The nodes of `ids` that know `versionId` of the key was deleted by id (its tombstone). */
async function knowingGone(ids: readonly string[], bucket: string, key: string, versionId: string): Promise<string[]> {
  const answers = await Promise.all(ids.map(async (id) => ((await cluster.client(id).versionLookup(bucket, key, versionId))?.gone === true ? [id] : [])));
  return answers.flat();
}

/** A key of `bucket` whose set under ring 2 shares no node with its set under ring 1 (the usual case when a cluster doubles). */
function movedKey(bucket: string, prefix: string): string {
  return cluster.keyWithShared(bucket, prefix, 0);
}

async function put(bucket: string, key: string, body: string, extra: Partial<ConstructorParameters<typeof PutObjectCommand>[0]> = {}): Promise<string> {
  return (await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ...extra }))).VersionId ?? 'null';
}

// Everything below is written under ring 1, before the change.
const versioned = bucketName();
await s3.send(new CreateBucketCommand({ Bucket: versioned }));
await s3.send(new PutBucketVersioningCommand({ Bucket: versioned, VersioningConfiguration: { Status: 'Enabled' } }));
const deletedKey = movedKey(versioned, 'deleted-');
const deleted = { v1: await put(versioned, deletedKey, 'v1, to be deleted'), v2: await put(versioned, deletedKey, 'v2') };
const behindKey = movedKey(versioned, 'behind-');
const behind = { v1: await put(versioned, behindKey, 'v1, to be deleted'), v2: await put(versioned, behindKey, 'v2') };
const downKey = movedKey(versioned, 'down-');
const down = { v1: await put(versioned, downKey, 'v1, to be deleted'), v2: await put(versioned, downKey, 'v2') };
const leftKey = movedKey(versioned, 'left-');
const left = { v1: await put(versioned, leftKey, 'v1, to be deleted'), v2: await put(versioned, leftKey, 'v2') };

// Objects written before versioning was enabled: each is its key's null version.
const legacy = bucketName();
await s3.send(new CreateBucketCommand({ Bucket: legacy }));
const nullFoundKey = movedKey(legacy, 'null-found-');
await put(legacy, nullFoundKey, 'written before versioning');
const nullDeletedKey = movedKey(legacy, 'null-deleted-');
await put(legacy, nullDeletedKey, 'written before versioning, to be deleted');
const nullBehindKey = movedKey(legacy, 'null-behind-');
await put(legacy, nullBehindKey, 'written before versioning, to be deleted where only the new set sees it');
await s3.send(new PutBucketVersioningCommand({ Bucket: legacy, VersioningConfiguration: { Status: 'Enabled' } }));

const locked = bucketName();
await s3.send(new CreateBucketCommand({ Bucket: locked, ObjectLockEnabledForBucket: true }));
const heldKey = movedKey(locked, 'held-');
const held = await put(locked, heldKey, 'under legal hold', { ObjectLockLegalHoldStatus: 'ON' });

// Object Lock enabled after the stale gateway cached the bucket's record.
const lateLocked = bucketName();
await s3.send(new CreateBucketCommand({ Bucket: lateLocked }));
await s3.send(new PutBucketVersioningCommand({ Bucket: lateLocked, VersioningConfiguration: { Status: 'Enabled' } }));
await stale.s3.send(new HeadBucketCommand({ Bucket: lateLocked }));
await s3.send(new PutObjectLockConfigurationCommand({ Bucket: lateLocked, ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled' } }));
const lateHeldKey = movedKey(lateLocked, 'held-');
const lateHeld = await put(lateLocked, lateHeldKey, 'under legal hold', { ObjectLockLegalHoldStatus: 'ON' });

await cluster.changeRing([first.gateway, second.gateway, stale.gateway]);
const bothRings = [first.s3, second.s3];

t.test('a version deleted by id during a move answers NoSuchVersion at once, on this gateway and on another that knows both rings', async (t) => {
  t.equal(await outcome(s3.send(new DeleteObjectCommand({ Bucket: versioned, Key: deletedKey, VersionId: deleted.v1 }))), '200', 'the delete is acknowledged');
  const get = await repeated(bothRings, (client) => client.send(new GetObjectCommand({ Bucket: versioned, Key: deletedKey, VersionId: deleted.v1 })));
  t.same(get, times(get.length, '404 NoSuchVersion'), 'GET ?versionId= of the deleted version');
  const head = await repeated(bothRings, (client) => client.send(new HeadObjectCommand({ Bucket: versioned, Key: deletedKey, VersionId: deleted.v1 })));
  t.same(head, times(head.length, '404 NotFound'), 'HEAD ?versionId= of the deleted version');
  const kept = await repeated(bothRings, (client) => client.send(new GetObjectCommand({ Bucket: versioned, Key: deletedKey, VersionId: deleted.v2 })));
  t.same(kept, times(kept.length, '200'), 'the other version, which only the old set holds, is found by its id');
});

t.test('a version deleted by id where only the new set saw it answers NoSuchVersion on gateways that know both rings', async (t) => {
  // The delete as it lands when no old member could be reached: on the new set alone.
  await Promise.all(cluster.setOf(ring2, versioned, behindKey).map((id) => cluster.client(id).deleteVersion({ bucket: versioned, key: behindKey, versionId: behind.v1 })));
  const old = cluster.setOf(ring1, versioned, behindKey);
  t.equal((await holding(old, versioned, behindKey, behind.v1)).length, old.length, 'every old member still holds the version the delete did not reach them with');
  const get = await repeated(bothRings, (client) => client.send(new GetObjectCommand({ Bucket: versioned, Key: behindKey, VersionId: behind.v1 })));
  t.same(get, times(get.length, '404 NoSuchVersion'), 'the new set\'s tombstones win over the old set\'s copies');
  const head = await repeated(bothRings, (client) => client.send(new HeadObjectCommand({ Bucket: versioned, Key: behindKey, VersionId: behind.v1 })));
  t.same(head, times(head.length, '404 NotFound'));
});

t.test('?versionId=null finds a pre-versioning object during a move, although the new set does not hold it yet', async (t) => {
  const get = await repeated(bothRings, async (client) => {
    const answer = await client.send(new GetObjectCommand({ Bucket: legacy, Key: nullFoundKey, VersionId: 'null' }));
    const body = await answer.Body?.transformToString();
    if (body !== 'written before versioning' || answer.VersionId !== 'null') throw new Error(`read ${answer.VersionId}: ${body}`);
  });
  t.same(get, times(get.length, '200'), 'GET ?versionId=null');
  const head = await repeated(bothRings, (client) => client.send(new HeadObjectCommand({ Bucket: legacy, Key: nullFoundKey, VersionId: 'null' })));
  t.same(head, times(head.length, '200'), 'HEAD ?versionId=null');
});

t.test('a delete by id during a move leaves no old member holding the version', async (t) => {
  t.equal(await outcome(s3.send(new DeleteObjectCommand({ Bucket: versioned, Key: leftKey, VersionId: left.v1 }))), '200', 'the delete is acknowledged');
  const old = cluster.setOf(ring1, versioned, leftKey);
  t.same(await holding(old, versioned, leftKey, left.v1), [], 'no member of the old set holds it');
  const young = cluster.setOf(ring2, versioned, leftKey);
  t.same(await knowingGone(young, versioned, leftKey, left.v1), young, 'every member of the new set keeps its tombstone');
  t.equal((await holding(old, versioned, leftKey, left.v2)).length, old.length, 'the other version stays where it was');
});

t.test('DELETE ?versionId=null during a move removes the null version from both sets', async (t) => {
  t.equal(await outcome(s3.send(new DeleteObjectCommand({ Bucket: legacy, Key: nullDeletedKey, VersionId: 'null' }))), '200', 'the delete is acknowledged');
  t.same(await holding(cluster.setOf(ring1, legacy, nullDeletedKey), legacy, nullDeletedKey, 'null'), [], 'no member of the old set holds it');
  const get = await repeated(bothRings, (client) => client.send(new GetObjectCommand({ Bucket: legacy, Key: nullDeletedKey, VersionId: 'null' })));
  t.same(get, times(get.length, '404 NoSuchVersion'), 'GET ?versionId=null');
  const current = await repeated(bothRings, (client) => client.send(new GetObjectCommand({ Bucket: legacy, Key: nullDeletedKey })));
  t.same(current, times(current.length, '404 NoSuchKey'), 'the key has no version left');
});

t.test('a null version deleted by id where only the new set saw it answers NoSuchVersion to ?versionId=null', async (t) => {
  // What a delete by id leaves when it reached no old member (they were down, or its gateway knew
  // only the new ring): the new set's tombstones name the null version by its real id, which a
  // `null` lookup does not ask for.
  const old = cluster.setOf(ring1, legacy, nullBehindKey);
  const [holder] = old;
  const nullVersion = holder === undefined ? undefined : (await cluster.client(holder).versionStatus(legacy, nullBehindKey, 'null'))?.record.versionId;
  if (nullVersion === undefined) throw new Error('the old set does not hold the null version');
  await Promise.all(cluster.setOf(ring2, legacy, nullBehindKey).map((id) => cluster.client(id).deleteVersion({ bucket: legacy, key: nullBehindKey, versionId: nullVersion })));
  t.equal((await holding(old, legacy, nullBehindKey, 'null')).length, old.length, 'every old member still holds it');
  const get = await repeated(bothRings, (client) => client.send(new GetObjectCommand({ Bucket: legacy, Key: nullBehindKey, VersionId: 'null' })));
  t.same(get, times(get.length, '404 NoSuchVersion'), 'GET ?versionId=null');
  const head = await repeated(bothRings, (client) => client.send(new HeadObjectCommand({ Bucket: legacy, Key: nullBehindKey, VersionId: 'null' })));
  t.same(head, times(head.length, '404 NotFound'), 'HEAD ?versionId=null');
});

t.test('a version under legal hold that only the old set holds is not deleted by id during a move', async (t) => {
  t.equal(await outcome(s3.send(new DeleteObjectCommand({ Bucket: locked, Key: heldKey, VersionId: held }))), '403 AccessDenied', 'the delete is refused');
  const sets = [...cluster.setOf(ring1, locked, heldKey), ...cluster.setOf(ring2, locked, heldKey)];
  t.same(await knowingGone(sets, locked, heldKey, held), [], 'no member of either set took a tombstone for it');
  const get = await repeated(bothRings, (client) => client.send(new GetObjectCommand({ Bucket: locked, Key: heldKey, VersionId: held })));
  t.same(get, times(get.length, '200'), 'it is still read by its id');
});

t.test('an old member refusing a delete by id under Object Lock refuses it, for a gateway that has not seen the lock', async (t) => {
  t.equal(await outcome(stale.s3.send(new DeleteObjectCommand({ Bucket: lateLocked, Key: lateHeldKey, VersionId: lateHeld }))), '403 AccessDenied');
  const old = cluster.setOf(ring1, lateLocked, lateHeldKey);
  t.equal((await holding(old, lateLocked, lateHeldKey, lateHeld)).length, old.length, 'every old member keeps it');
});

// Last: it stops a node of ring 1, which is in every moved key's old set.
t.test('a delete by id during a move is acknowledged while an old member is down, and reads by id answer NoSuchVersion', async (t) => {
  const [stopped, ...up] = cluster.setOf(ring1, versioned, downKey);
  if (stopped === undefined) throw new Error('the key has no old set');
  await cluster.stopNode(stopped);
  t.equal(await outcome(s3.send(new DeleteObjectCommand({ Bucket: versioned, Key: downKey, VersionId: down.v1 }))), '200', 'the old set\'s failure does not fail the delete');
  t.same(await holding(up, versioned, downKey, down.v1), [], 'the old members that are up hold it no more');
  const get = await repeated(bothRings, (client) => client.send(new GetObjectCommand({ Bucket: versioned, Key: downKey, VersionId: down.v1 })));
  t.same(get, times(get.length, '404 NoSuchVersion'));
});
