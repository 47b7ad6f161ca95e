import { t } from 'tap';
import { DEADLINE_RULES, LatencyEstimator, followingDeadlineMs, quorumLatencyBoundMs } from '../../src/rpc/index.js';

function estimatorOf(...samplesMs: number[]): LatencyEstimator {
  const estimator = new LatencyEstimator();
  for (const sample of samplesMs) estimator.observe(sample);
  return estimator;
}

t.test('a deadline is the configured floor while the nodes answer fast', async (t) => {
  const fast = [estimatorOf(2, 3, 2), estimatorOf(1, 2), estimatorOf(4)];
  t.equal(followingDeadlineMs(5_000, quorumLatencyBoundMs(fast, 2 / 3)), 5_000);
  t.equal(followingDeadlineMs(5_000, quorumLatencyBoundMs([], 1)), 5_000, 'no node answered yet: the floor');
});

t.test('when every node slows down, the deadline stretches past the floor to follow them', async (t) => {
  const slow = Array.from({ length: 6 }, () => estimatorOf(400, 600, 500, 700));
  const deadline = followingDeadlineMs(1_000, quorumLatencyBoundMs(slow, 4 / 6));
  t.ok(deadline > 1_000, `deadline ${deadline} ms`);
  t.ok(deadline >= 3 * 700, 'well beyond the slowest answer seen');
});

t.test('a hung node among fast ones does not stretch the quorum deadline', async (t) => {
  const hung = new LatencyEstimator();
  for (let i = 0; i < 10; i += 1) hung.expired(5_000);
  const nodes = [estimatorOf(2), estimatorOf(3), estimatorOf(2), estimatorOf(4), estimatorOf(3), hung];
  t.equal(followingDeadlineMs(5_000, quorumLatencyBoundMs(nodes, 4 / 6)), 5_000);
});

t.test('a call that ran out of time makes the next deadline longer than the one it missed', async (t) => {
  const node = estimatorOf(5, 5, 5);
  const before = followingDeadlineMs(100, node.boundMs);
  t.equal(before, 100);
  node.expired(before);
  const after = followingDeadlineMs(100, node.boundMs);
  t.ok(after > before, `after one expiry: ${after} ms`);
});

t.test('no deadline passes the ceiling, and none falls below the floor', async (t) => {
  const node = estimatorOf(10 * DEADLINE_RULES.ceilingMs);
  t.equal(followingDeadlineMs(100, node.boundMs), DEADLINE_RULES.ceilingMs);
  t.equal(followingDeadlineMs(2 * DEADLINE_RULES.ceilingMs, node.boundMs), 2 * DEADLINE_RULES.ceilingMs, 'a configured floor above the ceiling wins');
});
