import { t } from 'tap';
import { ReadDeadline, retrySlowRead, type MetadataTimeout, type RequestScope } from '../../../src/gateway/data-path/index.js';
import { quorumError } from '../../../src/gateway/s3/index.js';

/** What retrySlowRead needs of a request: its signal and the metadata timeout it reads on each attempt. */
function scope(timeoutsMs: number[]): RequestScope<MetadataTimeout> & { asked: number[] } {
  const asked: number[] = [];
  return {
    signal: new AbortController().signal,
    asked,
    services: {
      get metadataTimeoutMs() {
        const value = timeoutsMs[Math.min(asked.length, timeoutsMs.length - 1)] as number;
        asked.push(value);
        return value;
      },
    },
  };
}

const slow = () => quorumError('read', [{ nodeId: 'n1', reason: 'Unavailable: request aborted', timedOut: true }, { nodeId: 'n2', reason: 'Unavailable: request aborted', timedOut: true }]);
const down = () => quorumError('read', [{ nodeId: 'n1', reason: 'Unavailable: node unreachable' }, { nodeId: 'n2', reason: 'Unavailable: node unreachable' }]);

t.test('a round lost to slow nodes is run again, each time with the timeout as it then stands', async (t) => {
  const request = scope([300, 900, 2_700]);
  let attempts = 0;
  const value = await retrySlowRead(request, async () => {
    attempts += 1;
    if (attempts < 3) throw slow();
    return 'found';
  });
  t.equal(value, 'found');
  t.equal(attempts, 3);
  t.same(request.asked, [300, 900, 2_700], 'each attempt read the (stretching) timeout anew');
});

t.test('a round lost to nodes that refuse is answered at once: down is not slow', async (t) => {
  let attempts = 0;
  await t.rejects(
    retrySlowRead(scope([300]), async () => {
      attempts += 1;
      throw down();
    }),
    { code: 'ServiceUnavailable' },
  );
  t.equal(attempts, 1);
});

t.test('other errors are answered at once', async (t) => {
  let attempts = 0;
  await t.rejects(
    retrySlowRead(scope([300]), async () => {
      attempts += 1;
      throw new Error('not a quorum loss');
    }),
    { message: 'not a quorum loss' },
  );
  t.equal(attempts, 1);
});

t.test('slow rounds are retried only until the read deadline', async (t) => {
  let attempts = 0;
  const startedMs = performance.now();
  await t.rejects(
    retrySlowRead(
      scope([5]),
      async () => {
        attempts += 1;
        throw slow();
      },
      new ReadDeadline(startedMs, 150),
    ),
    { code: 'ServiceUnavailable' },
  );
  t.ok(attempts > 1, `retried (${attempts} attempts)`);
  t.ok(performance.now() - startedMs < 2_000, 'and gave up once the deadline was near');
});
