import { open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { t } from 'tap';
import type { ObjectRecord, ShardRef } from '../../../src/rpc/index.js';
import { SHARD_HEADER_BYTES, type QuarantineEntry, type ShardStore } from '../../../src/storage-node/index.js';
import { HealingFigures } from '../../../src/storage-node/workers/healing-figures.js';
import { ScrubWorker } from '../../../src/storage-node/workers/scrub-worker.js';
import { seededBytes } from '../../helpers/bytes.js';
import { openStore, prepareBytes, readShard, recordFor, shardImageAt, shardRef, tempDir } from '../store-fixture.js';

/**
 * The deep scrubber reads every version a node keeps, not just each key's current one: a shard of a
 * noncurrent version (of a versioned bucket, or written before versioning and kept once a newer version
 * came) that rots or goes missing is quarantined under its own version, so repair rebuilds that version.
 * Steps stay paced by rows and bytes however many versions a key has, and each version is read once a pass.
 */

const FILE_BYTES = 100_000;
const INLINE_BYTES = 200;

/** Prepares and commits shard 2 of version `n` of `key`; `versioning` null writes as a never-versioned bucket does. */
async function put(store: ShardStore, key: string, n: number, versioning: ObjectRecord['versioning'] | null = 'Enabled', sizeBytes = FILE_BYTES): Promise<ShardRef> {
  const ref = shardRef(key, n, 2);
  await prepareBytes(store, ref, seededBytes(sizeBytes, n));
  const record = recordFor(ref, sizeBytes * 4);
  await store.commit({ record: versioning === null || versioning === undefined ? record : { ...record, versioning }, shardIndex: 2 });
  return ref;
}

/** Flips bytes in the middle of a version's shard image (its file, or its place in a segment). */
async function rotFile(dir: string, store: ShardStore, ref: ShardRef): Promise<void> {
  const at = await shardImageAt(dir, store, ref);
  const handle = await open(at.path, 'r+');
  await handle.write(Buffer.from('rot'), 0, 3, at.offsetBytes + SHARD_HEADER_BYTES + 1000);
  await handle.close();
}

/** Runs steps until a pass ends; returns each step's item count. */
async function onePass(scrub: ScrubWorker): Promise<number[]> {
  const items: number[] = [];
  for (let steps = 0; steps < 1000; steps += 1) {
    const result = await scrub.step(new AbortController().signal);
    if (result.idle) return items;
    items.push(result.items);
  }
  throw new Error('the pass did not end');
}

async function quarantined(store: ShardStore): Promise<QuarantineEntry[]> {
  const entries: QuarantineEntry[] = [];
  for await (const entry of store.metadata.quarantined()) entries.push(entry);
  return entries;
}

function scrubOf(store: ShardStore, options: { keysPerStep?: number; bytesPerStep?: number } = {}): { scrub: ScrubWorker; figures: HealingFigures; wakes: () => number } {
  const figures = new HealingFigures();
  let wakes = 0;
  const scrub = new ScrubWorker({ store, figures, onQuarantine: () => (wakes += 1), ...options });
  return { scrub, figures, wakes: () => wakes };
}

t.test('a rotten shard of a noncurrent version is found by the scrub and quarantined under that version', async (t) => {
  const dir = await tempDir(t, 'scrub-noncurrent');
  const store = await openStore(dir);
  t.teardown(() => store.close());
  const v1 = await put(store, 'k', 1);
  await put(store, 'k', 2);
  const v3 = await put(store, 'k', 3);
  await rotFile(dir, store, v1);
  const { scrub, figures, wakes } = scrubOf(store);
  await onePass(scrub);
  t.match(figures.scrub, { passes: 1, keysScanned: 1, shardsVerified: 2, checksumFailures: 1, missingShards: 0 }, 'both good versions verified, the rotten one counted');
  t.match(await quarantined(store), [{ key: 'k', versionId: v1.versionId, shardIndex: 2, reason: 'checksum' }], 'the noncurrent version, not the current one, is quarantined');
  t.equal(wakes(), 1, 'repair is woken');
  t.ok((await readShard(store, v3)).equals(seededBytes(FILE_BYTES, 3)), 'the current version still reads');
  t.equal((await store.objectStatus('b', 'k'))?.record.versionId, v3.versionId, 'the current version is unchanged');
});

t.test('a noncurrent version whose shard file or segment is gone is quarantined as missing by the scrub', async (t) => {
  const dir = await tempDir(t, 'scrub-noncurrent-missing');
  // Segments of one image each, so losing the noncurrent version's segment loses nothing else.
  const store = await openStore(dir, { segmentSizeBytes: 1 });
  t.teardown(() => store.close());
  const v1 = await put(store, 'k', 1);
  await put(store, 'k', 2);
  await rm((await shardImageAt(dir, store, v1)).path);
  const { scrub, figures } = scrubOf(store);
  await onePass(scrub);
  t.match(figures.scrub, { shardsVerified: 1, checksumFailures: 0, missingShards: 1 });
  t.match(await quarantined(store), [{ key: 'k', versionId: v1.versionId, reason: 'missing' }]);
});

t.test('an object written before versioning, kept as a version row, and a noncurrent inline shard are scrubbed too', async (t) => {
  const dir = await tempDir(t, 'scrub-pre-versioning');
  let store = await openStore(dir);
  const plain = await put(store, 'plain', 1, null);
  await put(store, 'plain', 2);
  const small = await put(store, 'small', 1, 'Enabled', INLINE_BYTES);
  await put(store, 'small', 2, 'Enabled', INLINE_BYTES);
  t.equal((await store.versionStatus('b', 'plain', plain.versionId))?.record.versioning, undefined, 'the old version was written unversioned');
  t.equal((await store.versionStatus('b', 'small', small.versionId))?.inline, true, 'the small version is inline');
  await rotFile(dir, store, plain);
  await store.close();
  // An inline shard is its `d` row: rot its image in LevelDB.
  const db = new ClassicLevel<Buffer, Buffer>(join(dir, 'meta'), { keyEncoding: 'buffer', valueEncoding: 'buffer' });
  let rotted = 0;
  for await (const [key, value] of db.iterator({ gte: Buffer.from('d'), lt: Buffer.from('e') })) {
    if (!key.includes(Buffer.from(small.versionId))) continue;
    const image = Buffer.from(value);
    image[SHARD_HEADER_BYTES + 10] = (image[SHARD_HEADER_BYTES + 10] ?? 0) ^ 0xff;
    await db.put(key, image);
    rotted += 1;
  }
  await db.close();
  t.equal(rotted, 1, 'the noncurrent inline image was rotted');
  store = await openStore(dir);
  t.teardown(() => store.close());
  const { scrub, figures } = scrubOf(store);
  await onePass(scrub);
  t.match(figures.scrub, { keysScanned: 2, shardsVerified: 2, checksumFailures: 2 });
  const entries = (await quarantined(store)).map((entry) => [entry.key, entry.versionId, entry.reason]).sort();
  t.same(entries, [['plain', plain.versionId, 'checksum'], ['small', small.versionId, 'checksum']]);
});

t.test('steps stay paced over a key with many versions: each version is read once a pass, and a resumed cursor goes on mid-key', async (t) => {
  const dir = await tempDir(t, 'scrub-pacing');
  const store = await openStore(dir);
  t.teardown(() => store.close());
  for (let n = 1; n <= 5; n += 1) await put(store, 'many', n, 'Enabled', INLINE_BYTES);
  await put(store, 'one', 1, 'Enabled', INLINE_BYTES);
  const { scrub, figures } = scrubOf(store, { keysPerStep: 2 });
  const items = await onePass(scrub);
  t.same(items, [2, 2, 2], 'six version rows in steps of at most two');
  t.match(figures.scrub, { passes: 1, keysScanned: 2, keysTotal: 2, shardsVerified: 6, checksumFailures: 0 });

  const first = scrubOf(store, { keysPerStep: 2 });
  const { cursor } = await first.scrub.step(new AbortController().signal);
  t.match(JSON.parse(cursor ?? 'null'), { versionId: String }, 'the cursor names the last version read');
  const resumed = scrubOf(store, { keysPerStep: 2 });
  resumed.scrub.resume(cursor);
  t.same(await onePass(resumed.scrub), [2, 2], 'the resumed pass reads the four rows left');
  t.equal(resumed.figures.scrub.shardsVerified, 4);

  const older = scrubOf(store, { keysPerStep: 2 });
  // A cursor persisted before versions were scrubbed names a key only: the pass starts over rather than skip versions.
  older.scrub.resume(JSON.stringify({ hashHex: 'ffffffffffffffff', bucket: 'b', key: 'zzz' }));
  await onePass(older.scrub);
  t.equal(older.figures.scrub.shardsVerified, 6);

  const bounded = scrubOf(store, { keysPerStep: 64, bytesPerStep: 1 });
  t.same(await onePass(bounded.scrub), [1, 1, 1, 1, 1, 1], 'the byte budget ends a step after the shard that crosses it');
});
