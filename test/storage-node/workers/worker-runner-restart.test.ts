import { t } from 'tap';
import { silentLogger } from '../../../src/common/index.js';
import type { StepResult, Worker, WorkerStatus } from '../../../src/storage-node/workers/worker.js';
import { WorkerRunner, type CursorStore } from '../../../src/storage-node/workers/worker-runner.js';
import { gate, type Gate } from '../../helpers/gate.js';
import { until } from '../../helpers/until.js';

// The runner's pauses do not hold a process open (a node's server does): this test's process stays until it ends.
const keepAlive = setInterval(() => undefined, 1_000);
t.teardown(() => clearInterval(keepAlive));

/** Cursors in memory, every write kept in order. */
class MemoryCursors implements CursorStore {
  readonly writes: (string | null)[] = [];

  async loadCursor(): Promise<string | null> {
    return null;
  }

  async saveCursor(_name: string, cursor: string | null): Promise<void> {
    this.writes.push(cursor);
  }
}

/**
 * A worker that walks positions 0 … `total - 1`, one per step, as the scrubber walks its version rows:
 * the position advances when a step returns, so a restart during a step is what the scrubber's would be.
 * `hold(n)` makes the n-th step (counted from 1) wait until `release()`.
 */
class PassWorker implements Worker {
  readonly name = 'pass';
  readonly visited: number[] = [];
  private position = 0;
  private readonly total: number;
  private heldStep = 0;
  private held: Gate | null = null;
  private readonly waiters: { steps: number; resolve: () => void }[] = [];

  constructor(total: number) {
    this.total = total;
  }

  /** Resolves once the n-th step is running and waiting to be released. */
  hold(step: number): Promise<void> {
    this.heldStep = step;
    this.held = gate();
    return this.held.reached;
  }

  release(): void {
    this.held?.release();
  }

  /** Resolves once `steps` steps have started. */
  started(steps: number): Promise<void> {
    if (this.visited.length >= steps) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ steps, resolve }));
  }

  restart(): void {
    this.position = 0;
  }

  async step(): Promise<StepResult> {
    const at = this.position;
    this.visited.push(at);
    for (const waiter of this.waiters.filter((w) => this.visited.length >= w.steps)) {
      this.waiters.splice(this.waiters.indexOf(waiter), 1);
      waiter.resolve();
    }
    const held = this.held;
    if (held !== null && this.visited.length === this.heldStep) {
      await held.arrive();
      this.held = null;
    }
    if (at >= this.total) {
      this.position = 0;
      return { items: 0, bytes: 0, cursor: null, idle: true };
    }
    this.position = at + 1;
    return { items: 1, bytes: 0, cursor: String(at + 1), idle: false };
  }

  status(): WorkerStatus {
    return { at: this.position };
  }
}

function runner(t: { teardown(fn: () => Promise<void>): void }, worker: Worker, cursors: CursorStore, limits = {}): WorkerRunner {
  const run = new WorkerRunner({ worker, cursors, logger: silentLogger(), idleMs: 60_000, limits });
  t.teardown(() => run.close());
  return run;
}

t.test('a pass restarted while a step is running starts again from the beginning once that step returns', async (t) => {
  const worker = new PassWorker(1_000_000);
  const cursors = new MemoryCursors();
  const run = runner(t, worker, cursors);
  const held = worker.hold(5);
  await run.start();
  await held;
  t.same(worker.visited, [0, 1, 2, 3, 4], 'four steps done, the fifth running');
  run.restartPass(false);
  const savedBefore = cursors.writes.length;
  worker.release();
  await worker.started(7);
  t.same(worker.visited.slice(5, 7), [0, 1], 'the step after the running one starts the pass over');
  t.notOk(cursors.writes.slice(savedBefore).includes('5'), 'the running step’s position is not saved as the restarted pass’s cursor');
});

t.test('a fast pass asked for during the last step of the previous pass keeps its limits lifted', async (t) => {
  const worker = new PassWorker(3);
  const cursors = new MemoryCursors();
  const run = runner(t, worker, cursors, { itemsPerSecond: 1_000 });
  // Steps 1–3 visit positions 0–2; step 4 finds the pass's end (idle) and is held there.
  const held = worker.hold(4);
  await run.start();
  await held;
  run.restartPass(true);
  t.same(run.status().limits, { itemsPerSecond: 1_000 }, 'the old pass keeps its limits until its step returns');
  worker.release();
  await worker.started(5);
  t.same(worker.visited.slice(3, 5), [3, 0], 'the fast pass starts right after the old pass’s end, without an idle pause');
  t.same(run.status().limits, {}, 'the new pass runs without limits: the old pass’s end did not restore them');
});

t.test('a pass restarted while the runner is idle starts from the beginning at once', async (t) => {
  const worker = new PassWorker(2);
  const run = runner(t, worker, new MemoryCursors());
  await run.start();
  // Positions 0 and 1, then the idle end of the pass: the runner waits out its 60 s idle pause.
  await until('the pass’s end returned', async () => run.status().steps === 3, 10_000, 5);
  t.same(worker.visited, [0, 1, 2], 'the pass ended');
  run.restartPass(false);
  await worker.started(4);
  t.equal(worker.visited[3], 0, 'the restart woke the runner and the pass began again');
});
