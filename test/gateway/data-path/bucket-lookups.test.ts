import { t } from 'tap';
import type { BucketRecord } from '../../../src/rpc/index.js';
import { BucketLookups, MAX_ACTIVE_BUCKET_LOOKUPS } from '../../../src/gateway/data-path/bucket-lookups.js';

/** Lookups over a fake node read that the test answers: each call waits until `answer` or its signal. */
function harness(missTtlMs = 1_000) {
  // Not 0: lru-cache takes an entry stamped 0 for one without a TTL.
  let nowMs = 1_000_000;
  const calls: { name: string; signal: AbortSignal; answer: (record: BucketRecord | undefined) => void }[] = [];
  const lookups = new BucketLookups({
    missTtlMs,
    perf: { now: () => nowMs },
    read: (name, signal) =>
      new Promise((resolve, reject) => {
        calls.push({ name, signal, answer: resolve });
        signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true });
      }),
  });
  return { lookups, calls, advance: (ms: number) => void (nowMs += ms) };
}

const record = (name: string): BucketRecord => ({ name, versionId: 'v1', createdMs: 1, deleted: false });
const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const code = (err: unknown): unknown => (err as { code?: unknown }).code;

t.test('unsigned lookups of one name share one read, and its miss is remembered until the TTL', async (t) => {
  const { lookups, calls, advance } = harness();
  const live = new AbortController().signal;
  const asked = Array.from({ length: 5 }, () => lookups.find('b', live, false));
  await flush();
  t.equal(calls.length, 1);
  calls[0]!.answer(undefined);
  t.same(await Promise.all(asked), [undefined, undefined, undefined, undefined, undefined]);
  t.equal(await lookups.find('b', live, false), undefined);
  t.equal(calls.length, 1, 'the miss was told from memory');
  advance(1_001);
  const again = lookups.find('b', live, false);
  await flush();
  t.equal(calls.length, 2, 'past the TTL the nodes are asked again');
  calls[1]!.answer(record('b'));
  t.same(await again, record('b'));
});

t.test('a signed lookup neither shares a read begun before it nor is told a remembered miss', async (t) => {
  const { lookups, calls } = harness();
  const live = new AbortController().signal;
  const unsigned = lookups.find('b', live, false);
  await flush();
  const signed = lookups.find('b', live, true);
  await flush();
  t.equal(calls.length, 2);
  calls[0]!.answer(undefined);
  await unsigned;
  calls[1]!.answer(record('b'));
  t.same(await signed, record('b'));
  // The signed read found it: the miss is forgotten for everyone.
  const after = lookups.find('b', live, false);
  await flush();
  t.equal(calls.length, 3);
  calls[2]!.answer(record('b'));
  t.same(await after, record('b'));
});

t.test('a shared read stops once every request waiting for it has gone, and not before', async (t) => {
  const { lookups, calls } = harness();
  const [first, second] = [new AbortController(), new AbortController()];
  const asked = [lookups.find('b', first.signal, false), lookups.find('b', second.signal, false)];
  await flush();
  first.abort(new Error('gone'));
  await t.rejects(asked[0]!, { message: 'gone' });
  t.notOk(calls[0]!.signal.aborted, 'one request still waits');
  second.abort(new Error('gone too'));
  await t.rejects(asked[1]!, { message: 'gone too' });
  t.ok(calls[0]!.signal.aborted, 'the read was stopped');
  t.same(lookups.figures, { active: 0, queued: 0 });
});

t.test('a name invalidated while its read is in flight is not remembered missing, and the next request reads afresh', async (t) => {
  const { lookups, calls } = harness();
  const live = new AbortController().signal;
  const before = lookups.find('b', live, false);
  await flush();
  lookups.invalidate('b');
  const after = lookups.find('b', live, false);
  await flush();
  t.equal(calls.length, 2, 'the later request did not join the earlier read');
  calls[0]!.answer(undefined);
  t.equal(await before, undefined);
  calls[1]!.answer(record('b'));
  t.same(await after, record('b'));
});

t.test('reads at the nodes are bounded; waiting lookups are served in order, and past the queue refused with SlowDown', async (t) => {
  const { lookups, calls } = harness();
  const live = new AbortController().signal;
  const queueBound = 1_024;
  const asked = Array.from({ length: MAX_ACTIVE_BUCKET_LOOKUPS + queueBound }, (_, i) => lookups.find(`b-${i}`, live, false));
  await flush();
  t.equal(calls.length, MAX_ACTIVE_BUCKET_LOOKUPS);
  t.same(lookups.figures, { active: MAX_ACTIVE_BUCKET_LOOKUPS, queued: queueBound });
  await t.rejects(lookups.find('one-more', live, false), { code: 'SlowDown' });
  for (let i = 0; i < asked.length; i += 1) {
    calls[i]!.answer(undefined);
    await flush();
  }
  t.equal(calls.length, asked.length, 'every waiting lookup had its turn');
  t.same(calls.slice(MAX_ACTIVE_BUCKET_LOOKUPS, MAX_ACTIVE_BUCKET_LOOKUPS + 3).map((c) => c.name), [0, 1, 2].map((i) => `b-${MAX_ACTIVE_BUCKET_LOOKUPS + i}`), 'in arrival order');
  await Promise.all(asked);
  t.same(lookups.figures, { active: 0, queued: 0 });
});

t.test('a lookup that waits too long for a turn is refused with SlowDown and leaves the line', async (t) => {
  const { lookups, calls } = harness();
  const live = new AbortController().signal;
  const running = Array.from({ length: MAX_ACTIVE_BUCKET_LOOKUPS }, (_, i) => lookups.find(`b-${i}`, live, false));
  await flush();
  const waiting = lookups.find('late', live, false);
  t.equal(code(await waiting.catch((err: unknown) => err)), 'SlowDown');
  t.equal(lookups.figures.queued, 0);
  for (const call of calls) call.answer(undefined);
  await Promise.all(running);
});
