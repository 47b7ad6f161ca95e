import { getEventListeners, once } from 'node:events';
import { t } from 'tap';
import { withTimeout } from '../../../src/gateway/data-path/request-scope.js';

/** Waits for `signal` to abort; the round's timer is unreferenced (it never keeps a server up), so the test holds the process open. */
async function aborted(signal: AbortSignal): Promise<void> {
  const keepAlive = setInterval(() => undefined, 1000);
  try {
    if (!signal.aborted) await once(signal, 'abort');
  } finally {
    clearInterval(keepAlive);
  }
}

t.test('a round signal times out with a TimeoutError, and lets go of the request signal then', async (t) => {
  const request = new AbortController();
  const round = withTimeout(request.signal, 20);
  t.equal(getEventListeners(request.signal, 'abort').length, 1, 'listens to the request while the round may run');
  await aborted(round);
  t.equal((round.reason as Error).name, 'TimeoutError', 'the reason is a TimeoutError, as AbortSignal.timeout gives');
  t.equal(getEventListeners(request.signal, 'abort').length, 0, 'no listener left on the request signal');
  t.notOk(request.signal.aborted, 'the request itself goes on');
});

t.test('a round signal follows its request: its reason, at once, and no timer fires after', async (t) => {
  const request = new AbortController();
  const round = withTimeout(request.signal, 60_000);
  const reason = new Error('client disconnected');
  request.abort(reason);
  t.ok(round.aborted, 'aborted with the request');
  t.equal(round.reason, reason, "the request's reason");
  const already = withTimeout(request.signal, 60_000);
  t.ok(already.aborted, 'a round started after the request ended is aborted from the start');
  t.equal(already.reason, reason);
});

t.test('without a request signal, a round signal only times out', async (t) => {
  const round = withTimeout(undefined, 10);
  t.notOk(round.aborted);
  await aborted(round);
  t.equal((round.reason as Error).name, 'TimeoutError');
});
