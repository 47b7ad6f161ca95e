import { t } from 'tap';
import { CallBatcher } from '../../src/rpc/call-batcher.js';
import type { BatchResult } from '../../src/rpc/index.js';

/** A batcher whose requests wait until the test answers them; every request's calls are recorded. */
function controlled(limits = { maxCalls: 100, maxBytes: 1 << 20 }) {
  const requests: { calls: readonly string[]; signal: AbortSignal; answer: (results: BatchResult[]) => void; fail: (err: Error) => void }[] = [];
  const batcher = new CallBatcher(
    (calls, signal) =>
      new Promise<BatchResult[]>((resolve, reject) => {
        requests.push({ calls, signal, answer: resolve, fail: reject });
      }),
    limits,
  );
  const echo = (calls: readonly string[]): BatchResult[] => calls.map((json) => ({ ok: true, value: json }));
  return { batcher, requests, echo };
}

/** Lets queued microtasks (the batcher's flush) run. */
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

t.test('a lone call leaves at once; calls made while it is in flight leave together in the next request', async (t) => {
  const { batcher, requests, echo } = controlled();
  const first = batcher.call('"a"');
  await turn();
  t.equal(requests.length, 1);
  t.same(requests[0]?.calls, ['"a"']);
  const later = ['"b"', '"c"', '"d"'].map((json) => batcher.call(json));
  await turn();
  t.equal(requests.length, 1, 'nothing more is sent while a batch is in flight');
  requests[0]?.answer(echo(requests[0].calls));
  t.same(await first, { ok: true, value: '"a"' });
  await turn();
  t.equal(requests.length, 2);
  t.same(requests[1]?.calls, ['"b"', '"c"', '"d"'], 'the waiting calls share one request');
  requests[1]?.answer(echo(requests[1].calls));
  t.same(await Promise.all(later), ['"b"', '"c"', '"d"'].map((value) => ({ ok: true, value })), 'each caller gets its own result');
});

t.test('calls made in the same turn share the first request', async (t) => {
  const { batcher, requests, echo } = controlled();
  const calls = [batcher.call('1'), batcher.call('2')];
  await turn();
  t.same(requests.map((r) => r.calls), [['1', '2']]);
  requests[0]?.answer(echo(requests[0].calls));
  t.same(await Promise.all(calls), [{ ok: true, value: '1' }, { ok: true, value: '2' }]);
});

t.test('a batch is cut at its call and byte limits, and the rest follows in the next request', async (t) => {
  const { batcher, requests, echo } = controlled({ maxCalls: 2, maxBytes: 6 });
  const calls = ['"aa"', '"bb"', '"cc"', '1'].map((json) => batcher.call(json));
  await turn();
  t.same(requests[0]?.calls, ['"aa"'], 'a second 4-byte call would pass 6 bytes');
  requests[0]?.answer(echo(requests[0].calls));
  await turn();
  t.same(requests[1]?.calls, ['"bb"'], 'bytes still limit');
  requests[1]?.answer(echo(requests[1].calls));
  await turn();
  t.same(requests[2]?.calls, ['"cc"', '1'], 'two calls, six bytes');
  requests[2]?.answer(echo(requests[2].calls));
  await Promise.all(calls);
});

t.test('a failed request rejects each of its calls, and the calls queued behind it still go', async (t) => {
  const { batcher, requests, echo } = controlled();
  const first = batcher.call('1');
  await turn();
  const second = batcher.call('2');
  requests[0]?.fail(new Error('connection reset'));
  await t.rejects(first, /connection reset/);
  await turn();
  t.same(requests[1]?.calls, ['2']);
  requests[1]?.answer(echo(requests[1].calls));
  t.same(await second, { ok: true, value: '2' });
});

t.test('an aborted caller stops waiting at once, and a queued call of its is never sent', async (t) => {
  const { batcher, requests, echo } = controlled();
  const first = batcher.call('1');
  await turn();
  const controller = new AbortController();
  const abandoned = batcher.call('2', controller.signal);
  const kept = batcher.call('3');
  controller.abort(new Error('client went away'));
  await t.rejects(abandoned, /client went away/);
  requests[0]?.answer(echo(requests[0].calls));
  await first;
  await turn();
  t.same(requests[1]?.calls, ['3'], 'the aborted call was dropped from the queue');
  requests[1]?.answer(echo(requests[1].calls));
  await kept;
  await t.rejects(batcher.call('4', AbortSignal.abort(new Error('already aborted'))), /already aborted/);
});

t.test('a node that answers with fewer results than calls fails the calls it left out', async (t) => {
  const { batcher, requests } = controlled();
  const calls = [batcher.call('1'), batcher.call('2')];
  await turn();
  requests[0]?.answer([{ ok: true, value: 1 }]);
  t.same(await calls[0], { ok: true, value: 1 });
  await t.rejects(calls[1] as Promise<BatchResult>, /without this call/);
});

t.test('a sent batch is cancelled once every one of its callers has stopped waiting, not before', async (t) => {
  const { batcher, requests } = controlled();
  const first = new AbortController();
  const second = new AbortController();
  const calls = [batcher.call('1', first.signal), batcher.call('2', second.signal)];
  await turn();
  const sent = requests[0];
  first.abort(new Error('gone'));
  await t.rejects(calls[0] as Promise<BatchResult>, /gone/);
  t.equal(sent?.signal.aborted, false, 'one caller still waits');
  second.abort(new Error('gone too'));
  await t.rejects(calls[1] as Promise<BatchResult>, /gone too/);
  t.equal(sent?.signal.aborted, true, 'the request is cancelled');
});
