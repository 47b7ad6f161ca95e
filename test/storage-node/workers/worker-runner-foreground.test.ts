import { t } from 'tap';
import { silentLogger } from '../../../src/common/index.js';
import { NodeClient } from '../../../src/rpc/index.js';
import { NodeServer, RingStore, ShardStore, loadBlockHasher } from '../../../src/storage-node/index.js';
import { FOREGROUND_YIELD_FACTOR, ForegroundActivity } from '../../../src/storage-node/workers/foreground.js';
import type { StepResult, Worker, WorkerStatus } from '../../../src/storage-node/workers/worker.js';
import { WorkerRunner, type CursorStore } from '../../../src/storage-node/workers/worker-runner.js';
import { tempDir } from '../store-fixture.js';

const STEP_MS = 20;

// The runner's pauses do not hold a process open (a node's server does): this test's process stays until it ends.
const keepAlive = setInterval(() => undefined, 1_000);
t.teardown(() => clearInterval(keepAlive));

class NoCursors implements CursorStore {
  async loadCursor(): Promise<string | null> {
    return null;
  }

  async saveCursor(): Promise<void> {}
}

/** A worker whose steps each take STEP_MS; it records when each step started and ended, and goes idle after `steps`. */
class TimedWorker implements Worker {
  readonly name = 'timed';
  readonly spans: { startMs: number; endMs: number }[] = [];
  private readonly steps: number;
  private readonly finished: () => void;
  readonly done: Promise<void>;

  constructor(steps: number) {
    this.steps = steps;
    let finished = (): void => undefined;
    this.done = new Promise<void>((resolve) => {
      finished = resolve;
    });
    this.finished = finished;
  }

  async step(): Promise<StepResult> {
    if (this.spans.length >= this.steps) {
      this.finished();
      return { items: 0, bytes: 0, cursor: null, idle: true };
    }
    const startMs = performance.now();
    await new Promise((resolve) => setTimeout(resolve, STEP_MS));
    this.spans.push({ startMs, endMs: performance.now() });
    return { items: 1, bytes: 0, cursor: null, idle: false };
  }

  status(): WorkerStatus {
    return {};
  }
}

async function run(t: { teardown(fn: () => Promise<void>): void }, foreground: ForegroundActivity, steps: number, fast = false): Promise<{ worker: TimedWorker; runner: WorkerRunner }> {
  const worker = new TimedWorker(steps);
  const runner = new WorkerRunner({ worker, cursors: new NoCursors(), logger: silentLogger(), idleMs: 60_000, foreground });
  t.teardown(() => runner.close());
  await runner.start();
  if (fast) runner.restartPass(true);
  await worker.done;
  return { worker, runner };
}

t.test('a background step that ran while clients were served is followed by a pause of several times its length', async (t) => {
  const foreground = new ForegroundActivity();
  const endRequest = foreground.begin();
  t.teardown(endRequest);
  const { worker, runner } = await run(t, foreground, 4);
  for (let i = 1; i < worker.spans.length; i += 1) {
    const previous = worker.spans[i - 1] as { startMs: number; endMs: number };
    const gapMs = (worker.spans[i] as { startMs: number }).startMs - previous.endMs;
    const stepMs = previous.endMs - previous.startMs;
    t.ok(gapMs >= (FOREGROUND_YIELD_FACTOR - 1) * stepMs, `step ${i + 1} started ${gapMs.toFixed(0)} ms after a ${stepMs.toFixed(0)} ms step`);
  }
  t.ok(runner.status().yields >= 3, 'the runner reports the steps that gave way');
});

t.test('a client request that began and ended during a step counts as well', async (t) => {
  const foreground = new ForegroundActivity();
  const worker = new TimedWorker(3);
  const runner = new WorkerRunner({ worker, cursors: new NoCursors(), logger: silentLogger(), idleMs: 60_000, foreground });
  t.teardown(() => runner.close());
  // Short requests, one every few milliseconds, none in flight for long.
  const traffic = setInterval(() => foreground.begin()(), 2);
  t.teardown(() => clearInterval(traffic));
  await runner.start();
  await worker.done;
  t.ok(runner.status().yields >= 2, `${runner.status().yields} steps gave way to short requests`);
});

t.test('background work on a node serving no clients, or in a pass an operator asked to run fast, never pauses', async (t) => {
  const idle = await run(t, new ForegroundActivity(), 4);
  t.equal(idle.runner.status().yields, 0, 'no pauses without client traffic');
  const busy = new ForegroundActivity();
  const endRequest = busy.begin();
  t.teardown(endRequest);
  const fast = await run(t, busy, 4, true);
  t.equal(fast.runner.status().yields, 0, 'no pauses in a fast pass, even while clients are served');
});

t.test('the node server counts client-path requests as foreground and partition digests as background', async (t) => {
  const dataDir = await tempDir(t, 'foreground');
  const store = new ShardStore({ dataDir, hash: await loadBlockHasher(), logger: silentLogger() });
  await store.open();
  const rings = new RingStore(dataDir);
  await rings.open();
  const foreground = new ForegroundActivity();
  const secret = 'foreground-test-secret';
  const server = new NodeServer({ nodeId: 'n0', store, rings, clusterSecret: secret, logger: silentLogger(), foreground });
  const { port } = await server.listen('127.0.0.1', 0);
  const client = new NodeClient({ nodeId: 'n0', address: `127.0.0.1:${port}`, clusterSecret: secret });
  t.teardown(async () => {
    await client.close();
    await server.close();
    await store.close();
  });
  const beforeDigest = foreground.now();
  await client.partitionDigest(0, 4);
  t.notOk(foreground.activeSince(beforeDigest), 'a partition digest (background work of a peer) is not client traffic');
  const beforeStatus = foreground.now();
  t.equal(await client.objectStatus('bucket', 'key'), null, 'a version lookup answers');
  t.ok(foreground.activeSince(beforeStatus), 'a version lookup is client traffic');
  const beforeDigests = foreground.now();
  await Promise.all([0, 1, 2].map((partition) => client.partitionDigest(partition, 4)));
  t.notOk(foreground.activeSince(beforeDigests), 'digests that share a batch request are not client traffic either');
  const beforeMixed = foreground.now();
  await Promise.all([client.partitionDigest(3, 4), client.objectStatus('bucket', 'key')]);
  t.ok(foreground.activeSince(beforeMixed), 'a batch that carries a version lookup beside a digest is client traffic');
});
