import { PassThrough } from 'node:stream';
import { t } from 'tap';
import { seededBytes } from '../helpers/bytes.js';
import { ERASURE, openStore, recordFor, shardRef, tempDir } from './store-fixture.js';

/**
 * A writer whose write failed elsewhere aborts its shard on every node, and may do so while a node is
 * still taking a body it was sent whole (receiving its last bytes, syncing, recording it). The abort
 * must win however the two overlap: the prepare's row, written after the abort arrived, is dropped
 * with its file, rather than left for the prepared-shard resolver's grace.
 */

for (const { name, size } of [
  { name: 'a file shard', size: 300_000 },
  { name: 'an inline shard', size: 1_000 },
]) {
  t.test(`an abort that arrives while ${name} is still being prepared leaves no prepared shard and no file`, async (t) => {
    const dir = await tempDir(t, 'abort-during-prepare');
    const store = await openStore(dir);
    t.teardown(() => store.close());
    const ref = shardRef('aborted', 1);
    const bytes = seededBytes(size, 7);
    const body = new PassThrough();
    const prepared = store.prepare(ref, ERASURE, body, undefined, { fresh: true });
    body.write(bytes.subarray(0, size - 10));

    let abortDone = false;
    const aborted = store.abort(ref).then(() => {
      abortDone = true;
    });
    // Without a prepare to wait for, the abort is one metadata read and ends by the time another has.
    await store.objectStatus('b', 'aborted');
    t.notOk(abortDone, 'the abort has not finished while the prepare is still running');

    body.end(bytes.subarray(size - 10));
    t.equal(await prepared, size, 'the prepare itself completes');
    await aborted;
    await t.rejects(
      store.commit({ record: recordFor(ref, size * ERASURE.dataShards), shardIndex: ref.shardIndex }),
      { code: 'NotFound' },
      'nothing is left to commit',
    );
    t.same(await store.shardFiles(), [], 'no shard file is left');
  });
}

t.test('an abort of a shard with no prepare running ends at once, and one of another shard does not wait for it', async (t) => {
  const dir = await tempDir(t, 'abort-other-shard');
  const store = await openStore(dir);
  t.teardown(() => store.close());
  const ref = shardRef('busy', 1);
  const body = new PassThrough();
  const prepared = store.prepare(ref, ERASURE, body, undefined, { fresh: true });
  body.write(seededBytes(1_000, 8));
  await store.abort(shardRef('busy', 1, 1));
  await store.abort(shardRef('busy', 2));
  await store.abort(shardRef('idle', 1));
  body.end();
  t.equal(await prepared, 1_000, 'the prepare that was running is untouched');
  await store.commit({ record: recordFor(ref, 4_000), shardIndex: ref.shardIndex });
  t.equal((await store.objectStatus('b', 'busy'))?.record.versionId, ref.versionId, 'and commits');
});
