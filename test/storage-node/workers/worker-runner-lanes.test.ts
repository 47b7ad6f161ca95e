import { t } from 'tap';
import { silentLogger } from '../../../src/common/index.js';
import type { StepResult, WorkerStatus } from '../../../src/storage-node/workers/worker.js';
import { WorkerRunner, type CursorStore, type ParallelWorker } from '../../../src/storage-node/workers/worker-runner.js';

const STEP_BYTES = 64 * 1024;

/** Cursors in memory, counting writes. */
class MemoryCursors implements CursorStore {
  readonly saved = new Map<string, string | null>();
  writes = 0;

  async loadCursor(name: string): Promise<string | null> {
    return this.saved.get(name) ?? null;
  }

  async saveCursor(name: string, cursor: string | null): Promise<void> {
    this.writes += 1;
    this.saved.set(name, cursor);
  }
}

/**
 * A worker with `concurrency` lanes whose steps each move STEP_BYTES and take a few milliseconds (or, with
 * `hang`, until aborted); it records how many steps were in flight at once and goes idle after `steps`.
 */
class LaneWorker implements ParallelWorker {
  readonly name = 'lanes';
  readonly concurrency: number;
  private readonly steps: number;
  private readonly hang: boolean;
  started = 0;
  finished = 0;
  inFlight = 0;
  maxInFlight = 0;
  lastFinishMs = 0;

  constructor(options: { concurrency: number; steps: number; hang?: boolean }) {
    this.concurrency = options.concurrency;
    this.steps = options.steps;
    this.hang = options.hang ?? false;
  }

  async step(signal: AbortSignal): Promise<StepResult> {
    if (this.started >= this.steps) return { items: 0, bytes: 0, cursor: null, idle: true };
    this.started += 1;
    this.inFlight += 1;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      await new Promise<void>((resolve, reject) => {
        const done = (): void => {
          signal.removeEventListener('abort', abort);
          resolve();
        };
        const abort = (): void => {
          clearTimeout(timer);
          reject(signal.reason);
        };
        const timer = setTimeout(done, this.hang ? 60_000 : 3);
        signal.addEventListener('abort', abort, { once: true });
      });
      this.finished += 1;
      this.lastFinishMs = performance.now();
      return { items: 1, bytes: STEP_BYTES, cursor: null, idle: false };
    } finally {
      this.inFlight -= 1;
    }
  }

  status(): WorkerStatus {
    return { inFlight: this.inFlight };
  }
}

async function until(what: string, check: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

t.test('a parallel worker runs as many steps at once as its concurrency, and the byte limit holds across all of them', async (t) => {
  const bytesPerSecond = 4 * 1024 * 1024;
  const worker = new LaneWorker({ concurrency: 4, steps: 32 });
  const cursors = new MemoryCursors();
  const runner = new WorkerRunner({ worker, cursors, logger: silentLogger(), idleMs: 60_000, limits: { bytesPerSecond } });
  t.teardown(() => runner.close());
  const startedMs = performance.now();
  await runner.start();
  await until('every step finished', () => worker.finished === 32);
  const elapsedMs = worker.lastFinishMs - startedMs;
  t.equal(worker.maxInFlight, 4, 'four steps were in flight at once, never more');
  t.equal(runner.status().lanes, 4, 'status shows the lanes');
  // The last four steps may start together once the first 28 fit the budget: 28 x 64 KiB at 4 MiB/s.
  const floorMs = ((28 * STEP_BYTES) / bytesPerSecond) * 1000;
  t.ok(elapsedMs >= floorMs - 20, `2 MiB took ${elapsedMs.toFixed(0)} ms at 4 MiB/s across four lanes (at least ${floorMs.toFixed(0)} ms)`);
  t.equal(cursors.writes, 0, 'a cursor that stays null is never written again (each write is a synced batch)');
});

t.test('close returns only after every lane has stopped its step', async (t) => {
  const worker = new LaneWorker({ concurrency: 3, steps: 3, hang: true });
  const runner = new WorkerRunner({ worker, cursors: new MemoryCursors(), logger: silentLogger(), idleMs: 60_000 });
  await runner.start();
  await until('three steps hang in flight', () => worker.inFlight === 3);
  await runner.close();
  t.equal(worker.inFlight, 0, 'no step is left running after close');
  t.equal(runner.status().failures, 0, 'an abort at close is not counted as a failure');
});

t.test('a worker without concurrency keeps one lane, and a changed cursor is persisted after each step', async (t) => {
  let n = 0;
  const cursors = new MemoryCursors();
  const worker = {
    name: 'serial',
    inFlight: 0,
    maxInFlight: 0,
    async step(): Promise<StepResult> {
      if (n >= 5) return { items: 0, bytes: 0, cursor: String(n), idle: true };
      n += 1;
      this.inFlight += 1;
      this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
      await new Promise((resolve) => setTimeout(resolve, 2));
      this.inFlight -= 1;
      return { items: 1, bytes: 0, cursor: String(n), idle: false };
    },
    status: (): WorkerStatus => ({}),
  };
  const runner = new WorkerRunner({ worker, cursors, logger: silentLogger(), idleMs: 60_000 });
  t.teardown(() => runner.close());
  await runner.start();
  await until('the worker went idle', () => n === 5 && cursors.saved.get('serial') === '5');
  t.equal(worker.maxInFlight, 1, 'steps ran one at a time');
  t.equal(runner.status().lanes, 1, 'one lane');
  t.equal(cursors.writes, 5, 'each new cursor was written once; the idle step repeating the last one was not');
});
