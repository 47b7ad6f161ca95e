import { t } from 'tap';
import { HybridClock, compareVersionIds, formatVersionId, parseVersionId } from '../../src/common/index.js';

t.test('version ids strictly increase even when the wall clock stands still or steps back', async (t) => {
  let now = 1_000_000;
  const clock = new HybridClock({ writerId: '0000000a', wallClock: () => now });
  const ids: string[] = [];
  for (let i = 0; i < 5; i += 1) ids.push(clock.next());
  now -= 500;
  for (let i = 0; i < 5; i += 1) ids.push(clock.next());
  now += 10_000;
  ids.push(clock.next());
  for (let i = 1; i < ids.length; i += 1) t.ok((ids[i] as string) > (ids[i - 1] as string), `id ${i} orders after id ${i - 1}`);
  t.same(parseVersionId(ids[0] as string), { physicalMs: 1_000_000, logical: 0, writerId: '0000000a' });
});

t.test('a clock that observed a newer id from another writer orders its next id after it', async (t) => {
  const slow = new HybridClock({ writerId: '00000001', wallClock: () => 5 });
  const fast = new HybridClock({ writerId: '00000002', wallClock: () => 9_000 });
  const remote = fast.next();
  slow.observe(remote);
  t.ok(slow.next() > remote);
});

t.test('the logical counter overflowing borrows the next millisecond instead of wrapping', async (t) => {
  const clock = new HybridClock({ writerId: '00000003', wallClock: () => 42 });
  let previous = clock.next();
  for (let i = 0; i < 70_000; i += 1) {
    const next = clock.next();
    if (!(next > previous)) {
      t.fail(`id ${i} did not increase`);
      return;
    }
    previous = next;
  }
  t.pass('70,000 ids in one millisecond stay ordered');
});

t.test('nowMs reads the injected wall clock as it is, whatever ids were made or observed', async (t) => {
  let now = 7_000;
  const clock = new HybridClock({ writerId: '00000004', wallClock: () => now });
  clock.observe(new HybridClock({ writerId: '00000005', wallClock: () => 90_000 }).next());
  clock.next();
  t.equal(clock.nowMs(), 7_000);
  now -= 1_000;
  t.equal(clock.nowMs(), 6_000);
});

t.test('compareVersionIds orders ids as the clock made them, oldest first, with no id older than any', async (t) => {
  const v = (physicalMs: number, logical: number, writerId: string): string => formatVersionId(physicalMs, logical, writerId);
  const ordered = [v(1, 0, 'ffffffff'), v(1, 1, '00000000'), v(1, 1, '00000001'), v(0x1_0000_0000, 0, '00000000')];
  t.same([...ordered].reverse().sort(compareVersionIds), ordered);
  t.equal(compareVersionIds(ordered[0]!, ordered[0]!), 0);
  t.ok(compareVersionIds('', ordered[0]!) < 0, 'an absent id (a record without a tag revision) is older');
  const clock = new HybridClock({ writerId: '0000000a', wallClock: () => 5 });
  const first = clock.next();
  t.ok(compareVersionIds(clock.next(), first) > 0);
});
