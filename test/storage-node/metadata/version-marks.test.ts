import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { t } from 'tap';
import { partitionHashRange } from '../../../src/placement/index.js';
import type { ShardRef } from '../../../src/rpc/index.js';
import type { ShardStore } from '../../../src/storage-node/index.js';
import { partitionDigest } from '../../../src/storage-node/workers/healing-routes.js';
import { seededBytes } from '../../helpers/bytes.js';
import { openStore, prepareBytes, recordFor, shardRef, tempDir } from '../store-fixture.js';

/**
 * Version marks: one row a version in placement-hash order, written and dropped with the version row,
 * which partition digests read as one range instead of a seek a key. They must always list exactly the
 * versions the version rows hold, and a digest read from them must equal the one read from the version
 * rows, which is what members of earlier versions compute.
 */

async function write(store: ShardStore, ref: ShardRef, options: { versioned?: boolean; deleted?: boolean } = {}): Promise<void> {
  await prepareBytes(store, ref, seededBytes(200, ref.key.length + Number(ref.versionId.slice(8, 12))));
  const record = recordFor(ref, 800, options.deleted ?? false);
  await store.commit({ record: options.versioned === false ? record : { ...record, versioning: 'Enabled' }, shardIndex: ref.shardIndex });
}

/** Every version as the version rows list it, in placement-hash order: bucket/key@version:deleted. */
async function fromVersionRows(store: ShardStore, fromHash = 0n, toHash: bigint | null = null): Promise<string[]> {
  const seen: string[] = [];
  let after: Parameters<ShardStore['metadata']['versionPage']>[0] = null;
  for (;;) {
    const page = await store.metadata.versionPage(after, 100, fromHash, toHash);
    seen.push(...page.rows.map((row) => `${row.bucket}/${row.key}@${row.stored.record.versionId}:${row.stored.record.deleted}`));
    const last = page.rows.at(-1);
    if (!page.truncated || last === undefined) return seen;
    after = { hashHex: last.hashHex, bucket: last.bucket, key: last.key, versionId: last.stored.record.versionId };
  }
}

/** Every version as the version marks list it, in the same form. */
async function fromMarks(store: ShardStore, fromHash = 0n, toHash: bigint | null = null): Promise<string[]> {
  const seen: string[] = [];
  for await (const marks of store.metadata.versionMarks(fromHash, toHash)) seen.push(...marks.map((m) => `${m.bucket}/${m.key}@${m.versionId}:${m.deleted}`));
  return seen;
}

/** A partition's digest as nodes computed it before version marks: from the version rows. */
async function digestFromVersionRows(store: ShardStore, partition: number, bits: number): Promise<{ count: number; digest: string }> {
  const { from, to } = partitionHashRange(partition, bits);
  const hash = createHash('sha256');
  const rows = await fromVersionRows(store, from, to);
  for (const row of rows) {
    const [, bucket, key, versionId, deleted] = /^([^/]*)\/(.*)@(.*):(true|false)$/.exec(row)!;
    hash.update(`${bucket}\0${key}\0${versionId}\0${deleted === 'true' ? 1 : 0}\n`);
  }
  return { count: rows.length, digest: hash.digest('hex') };
}

/** Writes versioned keys (two sharing a prefix), an unversioned key overwritten, and a delete marker. */
async function fill(store: ShardStore): Promise<void> {
  for (const [key, versions] of [['a', 3], ['ab', 2], ['photos/x.jpg', 4]] as const) {
    for (let v = 1; v <= versions; v += 1) await write(store, shardRef(key, v));
  }
  for (let v = 1; v <= 3; v += 1) await write(store, shardRef('plain', v), { versioned: false });
  await write(store, shardRef('gone', 1));
  await write(store, shardRef('gone', 2), { deleted: true });
}

t.test('version marks list exactly the versions the version rows hold, in the same order, through writes, deletes and drops', async (t) => {
  const dir = await tempDir(t, 'version-marks');
  const store = await openStore(dir);
  t.teardown(() => store.close());
  await fill(store);
  const written = await fromMarks(store);
  t.same(written, await fromVersionRows(store), 'after writes, overwrites and a delete marker');
  t.equal(written.length, 3 + 2 + 4 + 1 + 2, 'an overwritten unversioned key keeps one version');
  t.ok(written.includes(`b/gone@${shardRef('gone', 2).versionId}:true`), 'a delete marker is marked deleted');

  await store.deleteVersion('b', 'photos/x.jpg', shardRef('photos/x.jpg', 4).versionId);
  await store.deleteVersion('b', 'a', shardRef('a', 1).versionId);
  await store.dropNoncurrentVersion('b', 'ab', shardRef('ab', 1).versionId);
  await store.dropVersion('b', 'plain', shardRef('plain', 3).versionId);
  const after = await fromMarks(store);
  t.same(after, await fromVersionRows(store), 'after deletes by id, a noncurrent drop and a dropped key');
  t.equal(after.length, written.length - 4, 'each removed version took its mark');
  t.notOk(after.some((row) => row.startsWith('b/plain@')), 'a key dropped whole has no mark left');

  await store.updateTags({ bucket: 'b', key: 'photos/x.jpg', versionId: shardRef('photos/x.jpg', 3).versionId, tags: { kept: 'yes' }, tagsRevision: shardRef('tags', 50).versionId });
  t.same(await fromMarks(store), after, 'rewriting a version in place changes no mark');
});

t.test('a digest read from version marks equals the one read from version rows, for every partition at several ring sizes', async (t) => {
  const dir = await tempDir(t, 'mark-digests');
  const store = await openStore(dir);
  t.teardown(() => store.close());
  await fill(store);
  for (let k = 0; k < 40; k += 1) await write(store, shardRef(`train/${k % 4}/sample-${k}`, k + 10), { versioned: k % 3 !== 0 });
  for (const bits of [0, 2, 4]) {
    let total = 0;
    for (let partition = 0; partition < 2 ** bits; partition += 1) {
      const digest = await partitionDigest(store, partition, bits);
      t.same({ count: digest.count, digest: digest.digest }, await digestFromVersionRows(store, partition, bits), `partition ${partition} of ${2 ** bits}`);
      total += digest.count;
    }
    t.equal(total, (await fromVersionRows(store)).length, `the ${2 ** bits} partitions count every version once`);
  }
});

t.test('a database written before version marks gains them when it opens, and its digests do not change', async (t) => {
  const dir = await tempDir(t, 'mark-migration');
  let store = await openStore(dir);
  await fill(store);
  const before = await partitionDigest(store, 0, 0);
  const versions = await fromVersionRows(store);
  await store.close();

  // Back to schema 4: no marks, and the schema row says so.
  const db = new ClassicLevel<Buffer, Buffer>(join(dir, 'meta'), { keyEncoding: 'buffer', valueEncoding: 'buffer' });
  const marks = await db.keys({ gte: Buffer.from('w\0'), lt: Buffer.from('w\xff', 'latin1') }).all();
  t.equal(marks.length, versions.length, 'one mark a version before the rollback');
  await db.batch([...marks.map((key) => ({ type: 'del' as const, key })), { type: 'put', key: Buffer.from('n\0schema'), value: Buffer.from('4') }]);
  await db.close();

  store = await openStore(dir);
  t.teardown(() => store.close());
  t.equal(await store.metadata.schemaVersion(), 5);
  t.same(await fromMarks(store), versions, 'every version has its mark again');
  t.same(await partitionDigest(store, 0, 0), before, 'the digest is the one computed before');
});
