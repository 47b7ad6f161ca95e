import { cp } from 'node:fs/promises';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { t } from 'tap';
import type { MetadataOp, ShardStore } from '../../src/storage-node/index.js';
import { seededBytes } from '../helpers/bytes.js';
import { SIZE_IN, SMALL_THRESHOLDS, openStore, readShard, shardRef, tempDir, writeShard } from './store-fixture.js';

/**
 * A power cut may take back every LevelDB write that was not synced, even one made before a synced
 * write: LevelDB syncs only its current log, and a log it switched away from (its memtable full) is
 * not synced until that memtable is flushed. A prepare is written unsynced, so a committed shard must
 * not need anything only the prepare wrote. Modelled here by building a second node from the first
 * one's shard files and its synced LevelDB writes alone, then opening it (start-up recovery included).
 */

/** Records the synced writes of `store` from now on, in order. */
function recordSyncedWrites(store: ShardStore): MetadataOp[][] {
  const synced: MetadataOp[][] = [];
  store.metadata.observeWrites((ops, sync) => {
    if (sync) synced.push(ops.map((op) => ({ ...op })));
  });
  return synced;
}

/** A node's data directory as a power cut could leave it: the shard files, and LevelDB with the synced writes only. */
async function afterPowerCut(from: string, to: string, synced: readonly (readonly MetadataOp[])[]): Promise<void> {
  for (const dir of ['shards', 'segments']) await cp(join(from, dir), join(to, dir), { recursive: true });
  const db = new ClassicLevel<Buffer, Buffer>(join(to, 'meta'), { keyEncoding: 'buffer', valueEncoding: 'buffer' });
  await db.open();
  for (const ops of synced) await db.batch([...ops]);
  await db.close();
}

t.test('a committed shard survives a power cut that loses its unsynced prepare: file, segment and inline shards', async (t) => {
  const before = await tempDir(t, 'power-cut-before');
  const store = await openStore(before, SMALL_THRESHOLDS);
  const synced = recordSyncedWrites(store);
  const fileShard = { ref: shardRef('weights.bin', 1), bytes: seededBytes(SIZE_IN.file, 1) };
  const segmentShard = { ref: shardRef('tokenizer.bin', 1), bytes: seededBytes(SIZE_IN.segment, 3) };
  const inlineShard = { ref: shardRef('config.json', 1), bytes: seededBytes(200, 2) };
  await writeShard(store, fileShard.ref, fileShard.bytes);
  await writeShard(store, segmentShard.ref, segmentShard.bytes);
  await writeShard(store, inlineShard.ref, inlineShard.bytes);
  t.ok(synced.length >= 2, 'each commit was a synced write');
  await store.close();

  const after = await tempDir(t, 'power-cut-after');
  // A node of its own first (its start-up rows, synced), then the first node's synced writes on top.
  const opened = await openStore(after);
  await opened.close();
  await afterPowerCut(before, after, synced);
  const restarted = await openStore(after, SMALL_THRESHOLDS);
  t.teardown(() => restarted.close());
  t.equal(restarted.stats.lastRecovery?.orphanFilesRemoved, 0, 'start-up recovery took no committed shard file for an orphan');
  t.equal(restarted.stats.lastRecovery?.emptySegmentsRemoved, 0, 'nor a segment holding a committed image');
  t.ok((await readShard(restarted, fileShard.ref)).equals(fileShard.bytes), 'the file shard reads back');
  t.ok((await readShard(restarted, segmentShard.ref)).equals(segmentShard.bytes), 'the segment shard reads back');
  t.ok((await readShard(restarted, inlineShard.ref)).equals(inlineShard.bytes), 'the inline shard reads back');
});
