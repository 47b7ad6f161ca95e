import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { t } from 'tap';
import { sweepShardDirectory, sweepTmpDirectory } from '../../../src/storage-node/workers/orphan-files.js';
import { seededBytes } from '../../helpers/bytes.js';
import { until } from '../../helpers/until.js';
import { ERASURE, openStore, readShard, recordFor, shardRef, tempDir } from '../store-fixture.js';

// Files a write has in flight are the subject: every shard above zero bytes goes to a file here, not a segment.
t.test('a shard write slower than the collector’s settle time keeps its temporary file and completes', async (t) => {
  const dir = await tempDir(t, 'sweep-in-flight');
  const store = await openStore(dir, { inlineMaxShardBytes: 0, segmentMaxShardBytes: 0 });
  t.teardown(() => store.close());
  const { tmpDir, shardDir } = store.directories;
  const ref = shardRef('slow', 1);
  const body = new PassThrough();
  const prepared = store.prepare(ref, ERASURE, body);
  body.write(seededBytes(70_000, 1));
  // Wait until the write's temporary file exists: the write is now in progress, and stalled.
  await until('the write\'s temporary file exists', async () => (await readdir(tmpDir)).length > 0, 30_000, 5);
  const inUse = (path: string): boolean => store.isWriting(path);
  // A sweep whose clock is far past the file's last write: by age alone the file would be garbage.
  const later = Date.now() + 60 * 60 * 1000;
  const swept = await sweepTmpDirectory(tmpDir, later, 1, AbortSignal.timeout(10_000), inUse);
  t.equal(swept.files, 0, 'the temporary file of a write in progress is not swept');
  t.equal((await readdir(tmpDir)).length, 1);
  body.end(seededBytes(10_000, 2));
  t.equal(await prepared, 80_000, 'the write completes');
  await store.commit({ record: recordFor(ref, 320_000), shardIndex: ref.shardIndex });
  const expected = Buffer.concat([seededBytes(70_000, 1), seededBytes(10_000, 2)]);
  t.ok((await readShard(store, ref)).equals(expected), 'and reads back');
  for (const sub of await readdir(shardDir)) {
    const result = await sweepShardDirectory(store.metadata, shardDir, sub, later, 1, AbortSignal.timeout(10_000), inUse);
    t.equal(result.files, 0, `shards/${sub}: a recorded shard file is kept`);
  }
  t.same(await readdir(tmpDir), [], 'and nothing is left in tmp/');
  t.notOk(store.isWriting(join(tmpDir, 'anything')), 'once done, nothing is owned');
});
