import { t } from 'tap';
import { KeyLeases } from '../../src/storage-node/key-leases.js';

/** A node's lease table on a clock the test moves. */
function leases(): { table: KeyLeases; advance(ms: number): void } {
  let nowMs = 1_000_000;
  return { table: new KeyLeases(() => nowMs), advance: (ms) => (nowMs += ms) };
}

t.test('plain writes share a key; a conditional write is refused while any holds it, and takes it once the last gives it back', async (t) => {
  const { table } = leases();
  t.ok(table.acquireShared('b', 'k', 'put-1', 30_000).granted, 'a plain write takes the shared lease');
  t.ok(table.acquireShared('b', 'k', 'put-2', 30_000).granted, 'a second plain write shares it');
  t.notOk(table.acquire('b', 'k', 'cond', 30_000), 'the conditional write waits while plain writes hold the key');
  table.release('b', 'k', 'put-1');
  t.notOk(table.acquire('b', 'k', 'cond', 30_000), 'one plain write still holds it');
  table.release('b', 'k', 'put-2');
  t.ok(table.acquire('b', 'k', 'cond', 30_000), 'with none left, the conditional write takes it');
  t.ok(table.acquireShared('b', 'other', 'put-3', 30_000).granted, 'other keys are not affected');
});

t.test('a conditional write asking for a key keeps new plain writes away, so a stream of them cannot starve it', async (t) => {
  const { table, advance } = leases();
  t.ok(table.acquireShared('b', 'k', 'put-1', 30_000).granted);
  t.notOk(table.acquire('b', 'k', 'cond', 30_000), 'refused: a plain write holds the key');
  t.notOk(table.acquireShared('b', 'k', 'put-2', 30_000).granted, 'a new plain write is refused while the conditional one waits');
  table.release('b', 'k', 'put-1');
  t.ok(table.acquire('b', 'k', 'cond', 30_000), 'the conditional write gets the key next');
  t.notOk(table.acquireShared('b', 'k', 'put-2', 30_000).granted, 'and plain writes wait while it holds it');
  table.release('b', 'k', 'cond');
  t.ok(table.acquireShared('b', 'k', 'put-2', 30_000).granted, 'given back, plain writes go on');

  t.notOk(table.acquire('b', 'k', 'gave-up', 30_000), 'another conditional write is refused and then gives up');
  advance(5_000);
  t.ok(table.acquireShared('b', 'k', 'put-3', 30_000).granted, 'its claim lapses by itself');
});

t.test('an exclusive lease given back with the version it committed leaves a fence every later shared grant reports', async (t) => {
  const { table, advance } = leases();
  t.same(table.acquireShared('b', 'k', 'put-0', 30_000), { granted: true }, 'no fence before any conditional write');
  table.release('b', 'k', 'put-0');
  t.ok(table.acquire('b', 'k', 'cond', 30_000));
  table.release('b', 'k', 'cond', '0000000000000200-aaaa');
  t.same(table.acquireShared('b', 'k', 'put-1', 30_000), { granted: true, fence: '0000000000000200-aaaa' });
  t.ok(table.acquire('b', 'k', 'older', 30_000) === false, 'put-1 holds the key');
  table.release('b', 'k', 'put-1');
  t.ok(table.acquire('b', 'k', 'older', 30_000));
  table.release('b', 'k', 'older', '0000000000000100-bbbb');
  t.equal(table.acquireShared('b', 'k', 'put-2', 30_000).fence, '0000000000000200-aaaa', 'a fence never moves back');
  table.release('b', 'k', 'put-2');
  table.release('b', 'k', 'not-the-holder', '0000000000000900-cccc');
  t.equal(table.acquireShared('b', 'k', 'put-3', 30_000).fence, '0000000000000200-aaaa', 'only the holder of the exclusive lease sets a fence');
  advance(10 * 60_000);
  t.same(table.acquireShared('b', 'k', 'put-4', 30_000), { granted: true }, 'fences are forgotten long after');
});

t.test('leases expire by themselves: a gateway that died holding one blocks the key only for its time to live', async (t) => {
  const { table, advance } = leases();
  t.ok(table.acquireShared('b', 'k', 'dead-put', 1_000).granted);
  t.notOk(table.acquire('b', 'k', 'cond', 30_000));
  advance(1_001);
  t.ok(table.acquire('b', 'k', 'cond', 1_000), 'the dead plain write no longer holds it');
  t.notOk(table.acquireShared('b', 'k', 'put', 30_000).granted);
  advance(1_001);
  t.ok(table.acquireShared('b', 'k', 'put', 30_000).granted, 'nor does a dead conditional write');
  t.same(table.held('b', 'k'), { exclusive: false, shared: 1 });
});

t.test('a conditional write that gives back a round without a majority keeps its claim while it tries again', async (t) => {
  const { table } = leases();
  t.ok(table.acquireShared('b', 'k', 'put-1', 30_000).granted);
  t.notOk(table.acquire('b', 'k', 'cond', 30_000), 'refused: a plain write holds the key');
  table.release('b', 'k', 'cond');
  t.notOk(table.acquireShared('b', 'k', 'put-2', 30_000).granted, 'between its rounds, new plain writes still wait');
  table.release('b', 'k', 'put-1');
  t.ok(table.acquire('b', 'k', 'cond', 30_000), 'its next round gets the key');
});

t.test('a conditional write that committed ends its claim on the nodes that refused it', async (t) => {
  const { table } = leases();
  t.ok(table.acquireShared('b', 'k', 'put-1', 30_000).granted);
  t.notOk(table.acquire('b', 'k', 'cond', 30_000), 'this node refused it; a majority elsewhere granted it');
  table.release('b', 'k', 'put-1');
  table.release('b', 'k', 'cond', '0000000000000300-dddd');
  t.same(table.acquireShared('b', 'k', 'put-2', 30_000), { granted: true }, 'plain writes are not kept waiting for a claim already served (no fence here: this node did not hold it)');
});
