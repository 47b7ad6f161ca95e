import { join } from 'node:path';
import { t } from 'tap';
import { GroupCommitWriter, MetadataBatch, MetadataWriteFenced, type MetadataOp } from '../../src/storage-node/group-commit.js';
import { MetadataStore } from '../../src/storage-node/metadata-store.js';
import { seededBytes } from '../helpers/bytes.js';
import { openStore, readShard, shardRef, tempDir, writeShard } from './store-fixture.js';

/** A database stand-in whose writes complete when the test says so. */
class ManualDatabase {
  readonly calls: Call[] = [];
  private readonly waiting = new Map<number, () => void>();

  readonly write = (ops: MetadataOp[], sync: boolean): Promise<void> =>
    new Promise((resolve, reject) => {
      this.calls.push({ ops, sync, settle: (err) => (err === undefined ? resolve() : reject(err)) });
      this.waiting.get(this.calls.length)?.();
    });

  /** The n-th write (1-based), once it has been issued. */
  async call(n: number): Promise<Call> {
    if (this.calls.length < n) await new Promise<void>((resolve) => this.waiting.set(n, resolve));
    return this.calls[n - 1] as Call;
  }
}

interface Call {
  ops: MetadataOp[];
  sync: boolean;
  settle: (err?: Error) => void;
}

function put(name: string, value: string): MetadataBatch {
  return new MetadataBatch().put(Buffer.from(name), Buffer.from(value));
}

t.test('the first write goes at once; writes submitted while it is in flight go together, in submission order', async (t) => {
  const db = new ManualDatabase();
  const writer = new GroupCommitWriter(db.write, true);
  const first = writer.write(put('a', '1'));
  t.equal(db.calls.length, 1, 'no timer: the first write is issued at once');
  const rest = [writer.write(put('b', '2')), writer.write(new MetadataBatch().del(Buffer.from('a'))), writer.write(put('a', '3'))];
  t.equal(db.calls.length, 1, 'later writes wait for the one in flight');
  let restDone = false;
  void Promise.all(rest).then(() => (restDone = true));
  db.calls[0]?.settle();
  await first;
  const second = await db.call(2);
  t.notOk(restDone, 'the rest are not acknowledged before their own write is durable');
  t.same(
    second.ops.map((op) => `${op.type} ${op.key.toString()}`),
    ['put b', 'del a', 'put a'],
    'they go as one write, in submission order, so a put, delete and put of one key end as they would one after the other',
  );
  t.equal(second.sync, true);
  second.settle();
  await Promise.all(rest);
  t.same(writer.counts, { batches: 4, levelWrites: 2 });
});

t.test('a failed write fails its whole group, refuses what queued behind it unwritten, and fences later writes', async (t) => {
  const db = new ManualDatabase();
  const writer = new GroupCommitWriter(db.write, true);
  const first = writer.write(put('a', '1'));
  const group = [writer.write(put('b', '1')), writer.write(put('c', '1'))];
  db.calls[0]?.settle();
  await first;
  const inFlight = await db.call(2);
  t.equal(inFlight.ops.length, 2, 'the group is in flight');
  const queued = [writer.write(put('d', '1')), writer.write(put('e', '1'))];
  const diskError = Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO' });
  inFlight.settle(diskError);
  const groupResults = await Promise.allSettled(group);
  t.ok(
    groupResults.every((result) => result.status === 'rejected' && result.reason === diskError),
    'every caller of the failed group sees the disk error',
  );
  const queuedResults = await Promise.allSettled(queued);
  t.ok(
    queuedResults.every((result) => result.status === 'rejected' && result.reason instanceof MetadataWriteFenced),
    'writes that queued behind it are refused',
  );
  await t.rejects(writer.write(put('f', '1')), MetadataWriteFenced, 'and so is every later write');
  t.equal(db.calls.length, 2, 'none of them reached the database');
  t.equal(writer.failureCount, 1);
});

t.test('a write refused because the database is closed fences nothing', async (t) => {
  const db = new ManualDatabase();
  const writer = new GroupCommitWriter(db.write, true);
  const refused = writer.write(put('a', '1'));
  db.calls[0]?.settle(Object.assign(new Error('Database is not open'), { code: 'LEVEL_DATABASE_NOT_OPEN' }));
  await t.rejects(refused, { code: 'LEVEL_DATABASE_NOT_OPEN' });
  const next = writer.write(put('b', '1'));
  (await db.call(2)).settle();
  await next;
  t.equal(writer.failureCount, 0);
});

t.test('many concurrent metadata writes share few LevelDB writes, and each caller finds its data', async (t) => {
  const dir = await tempDir(t, 'group-commit');
  const store = new MetadataStore(join(dir, 'meta'));
  await store.open();
  t.teardown(() => store.close());
  const before = store.writeCounts;
  const names = Array.from({ length: 64 }, (_, i) => `w${i}`);
  await Promise.all(names.map((name) => store.saveCursor(name, `value of ${name}`)));
  const after = store.writeCounts;
  t.equal(after.batches - before.batches, 64);
  t.equal(after.levelWrites - before.levelWrites, 2, 'the first write alone, then the 63 submitted meanwhile as one');
  for (const name of names) t.equal(await store.loadCursor(name), `value of ${name}`);
  // Same key from several callers in one group: the last submitted wins, a delete in between deletes.
  await Promise.all([store.saveCursor('k', 'first'), store.saveCursor('k', 'second'), store.saveCursor('gone', 'x'), store.saveCursor('gone', null)]);
  t.equal(await store.loadCursor('k'), 'second');
  t.equal(await store.loadCursor('gone'), null);
  await store.close();
  const reopened = new MetadataStore(join(dir, 'meta'));
  await reopened.open();
  t.equal(await reopened.loadCursor('w63'), 'value of w63', 'acknowledged writes survive a reopen');
  await reopened.close();
});

t.test('concurrent small shard writes through the store share LevelDB syncs and all read back', async (t) => {
  const dir = await tempDir(t, 'group-commit-store');
  const store = await openStore(dir);
  t.teardown(() => store.close());
  const before = store.metadata.writeCounts;
  const writes = Array.from({ length: 32 }, (_, i) => ({ ref: shardRef(`k${i}`, 1), bytes: seededBytes(1000 + i, i) }));
  await Promise.all(writes.map(({ ref, bytes }) => writeShard(store, ref, bytes)));
  const after = store.metadata.writeCounts;
  t.equal(after.batches - before.batches, 64, 'one prepare and one commit batch per shard');
  t.ok(after.levelWrites - before.levelWrites < 32, `in ${after.levelWrites - before.levelWrites} LevelDB writes`);
  for (const { ref, bytes } of writes) t.ok((await readShard(store, ref)).equals(bytes), `${ref.key} reads back`);
});

t.test('a write that needs no sync of its own is synced only when it shares a group with one that does', async (t) => {
  const db = new ManualDatabase();
  const writer = new GroupCommitWriter(db.write, true);
  const alone = writer.write(put('p', '1'), false);
  const first = await db.call(1);
  t.equal(first.sync, false, 'a prepare alone is written without a sync');
  const grouped = [writer.write(put('p', '2'), false), writer.write(put('o', '1'))];
  first.settle();
  await alone;
  const second = await db.call(2);
  t.equal(second.sync, true, 'with a commit in its group, the group is synced');
  t.same(second.ops.map((op) => op.key.toString()), ['p', 'o'], 'in submission order');
  second.settle();
  await Promise.all(grouped);
  const never = new GroupCommitWriter(db.write, false);
  void never.write(put('x', '1'));
  t.equal((await db.call(3)).sync, false, 'a store opened without sync never syncs');
  (await db.call(3)).settle();
});
