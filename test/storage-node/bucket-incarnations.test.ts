import { t } from 'tap';
import type { BucketRecord, ObjectRecord, ShardRef } from '../../src/rpc/index.js';
import { BucketIncarnations, type ShardStore } from '../../src/storage-node/index.js';
import { seededBytes } from '../helpers/bytes.js';
import { ERASURE, openStore, prepareBytes, recordFor, shardRef, tempDir, versionId } from './store-fixture.js';

function bucket(createdMs: number, version: number, state: { deleted?: boolean; closing?: boolean } = {}): BucketRecord {
  return { name: 'b', versionId: versionId(version), createdMs, deleted: state.deleted ?? false, ...(state.closing === true ? { closing: true } : {}) };
}

/** Prepares and commits a shard of `ref` written under incarnation `createdMs` (undefined: a record that names none). */
async function write(store: ShardStore, ref: ShardRef, createdMs: number | undefined): Promise<void> {
  await prepareBytes(store, ref, seededBytes(100, 1));
  const record: ObjectRecord = { ...recordFor(ref, 100 * ERASURE.dataShards), ...(createdMs === undefined ? {} : { bucketCreatedMs: createdMs }) };
  await store.commit({ record, shardIndex: ref.shardIndex });
}

async function refusal(work: Promise<unknown>): Promise<string> {
  try {
    await work;
    return 'committed';
  } catch (err) {
    return String((err as { code?: unknown }).code);
  }
}

t.test('a node commits a version only into the bucket incarnation it was written for', async (t) => {
  const dir = await tempDir(t, 'incarnations');
  let store = await openStore(dir);
  t.teardown(() => store.close());
  t.equal(await refusal(write(store, shardRef('unknown', 1), 1000)), 'committed', 'a bucket the node holds no record of: taken');
  await store.putBucket(bucket(1000, 2));
  t.equal(await refusal(write(store, shardRef('live', 3), 1000)), 'committed', 'the live incarnation: taken');
  await store.putBucket(bucket(1000, 4, { closing: true }));
  t.equal(await refusal(write(store, shardRef('closing', 5), 1000)), 'BucketClosing', 'while DeleteBucket checks it: refused for now');
  t.equal(await refusal(write(store, shardRef('unstamped', 6), undefined)), 'committed', 'a record naming no incarnation (the uploads bucket, older records) is not checked');
  await store.putBucket(bucket(1000, 7, { deleted: true }));
  t.equal(await refusal(write(store, shardRef('deleted', 8), 1000)), 'BucketGone', 'the incarnation was deleted');
  t.equal(await refusal(write(store, shardRef('newer', 9), 2000)), 'committed', 'an incarnation created since, on a majority without this node: taken');
  await store.putBucket(bucket(3000, 10));
  t.equal(await refusal(write(store, shardRef('stale', 11), 2000)), 'BucketGone', 'a newer incarnation is held: the write came through a stale bucket record');
  t.equal(await store.objectStatus('b', 'deleted'), undefined, 'nothing of a refused commit is visible');

  await store.close();
  store = await openStore(dir);
  t.equal(await refusal(write(store, shardRef('restarted', 12), 2000)), 'BucketGone', 'after a restart the node reads its records again');
  t.equal(await refusal(write(store, shardRef('current', 13), 3000)), 'committed');
});

t.test('a closing or deleted record is acknowledged only once the commits taken before it are applied', async (t) => {
  const incarnations = new BucketIncarnations(async () => bucket(1000, 1));
  let apply: () => void = () => undefined;
  let applied = false;
  const commit = incarnations.admit('b', 1000, () => new Promise<void>((resolve) => (apply = resolve)).then(() => void (applied = true)));
  // The check ran (the record was read); the commit is now held open.
  await new Promise((resolve) => setImmediate(resolve));
  let acknowledged = false;
  const closing = incarnations.stored(bucket(1000, 2, { closing: true })).then(() => void (acknowledged = true));
  await new Promise((resolve) => setImmediate(resolve));
  t.notOk(acknowledged, 'the closing record waits for the commit in flight');
  await t.rejects(incarnations.admit('b', 1000, async () => undefined), { code: 'BucketClosing' }, 'a commit after it is refused');
  apply();
  await closing;
  await commit;
  t.ok(applied && acknowledged, 'acknowledged once the earlier commit was applied');
  let openAcknowledged = false;
  const held = incarnations.admit('b', 3000, () => new Promise<void>((resolve) => (apply = resolve)));
  await incarnations.stored(bucket(1000, 3)).then(() => void (openAcknowledged = true));
  t.ok(openAcknowledged, 'an open record does not wait');
  apply();
  await held;
});
