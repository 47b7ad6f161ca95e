import { setMaxListeners } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../../common/index.js';
import { FOREGROUND_YIELD_FACTOR, MAX_FOREGROUND_YIELD_MS, type ForegroundActivity } from './foreground.js';
import { RateLimiter, type RateLimits } from './rate-limiter.js';
import type { StepResult, Worker, WorkerStatus } from './worker.js';

/** Where runners keep their cursors: node-local rows, so a restart resumes where the last step ended. */
export interface CursorStore {
  loadCursor(name: string): Promise<string | null>;
  saveCursor(name: string, cursor: string | null): Promise<void>;
}

/**
 * A worker whose steps are independent of one another: the runner runs `concurrency` of them at once.
 * Its `step` must be safe to call while other steps are in flight, and it keeps no cursor (or one that
 * any step's value may overwrite), since steps finish in any order.
 */
export interface ParallelWorker extends Worker {
  readonly concurrency: number;
}

/** Construction parameters of a runner. */
export interface WorkerRunnerOptions {
  worker: Worker;
  cursors: CursorStore;
  logger: Logger;
  limits?: RateLimits;
  /** Pause after a step that found nothing to do, unless kicked earlier. */
  idleMs: number;
  /** Pause after a failed step. */
  errorBackoffMs?: number;
  /** Steps run at once; the worker's own `concurrency` (a ParallelWorker's) or 1 when absent. */
  concurrency?: number;
  /** The node's client traffic: a step that ran while clients were served is followed by a pause (foreground.ts). */
  foreground?: ForegroundActivity | undefined;
  clock?: () => number;
}

/** What a runner reports: its worker's figures plus pacing. */
export interface RunnerStatus {
  name: string;
  running: boolean;
  steps: number;
  failures: number;
  lastError: string | null;
  /** Bytes/s and items/s over the last completed second of work. */
  bytesPerSecond: number;
  itemsPerSecond: number;
  limits: RateLimits;
  /** Steps run at once. */
  lanes: number;
  /** Steps followed by a pause because the node was serving clients meanwhile. */
  yields: number;
  worker: WorkerStatus;
}

/**
 * Runs one worker until closed: step, persist the cursor, pace to the rate limits, give way to client
 * traffic (a step that ran while the node served clients is followed by a pause of a few times its
 * length, except in a pass an operator asked to run fast), and pause when the worker is idle. `kick()` ends a pause at once (new work was queued, or an operator asked for a pass).
 * A parallel worker's steps run in several lanes, each stepping on its own; the rate limits hold for
 * all of them together, and close() returns only once every lane has stopped.
 */
export class WorkerRunner {
  readonly worker: Worker;
  private readonly options: WorkerRunnerOptions;
  private readonly limiter: RateLimiter;
  private readonly baseLimits: RateLimits;
  private readonly clock: () => number;
  private readonly lanes: number;
  private abort: AbortController | undefined;
  private done: Promise<void> | undefined;
  /** Wake-ups of the lanes pausing now. */
  private readonly wakes = new Set<() => void>();
  private kicked = false;
  private pausedLanes = 0;
  /** The cursor last persisted: an unchanged one is not written again (each write is a synced batch). */
  private savedCursor: string | null = null;
  private steps = 0;
  private failures = 0;
  private lastError: string | null = null;
  private rateWindow = { startMs: 0, bytes: 0, items: 0 };
  private rates = { bytesPerSecond: 0, itemsPerSecond: 0 };
  private unlimitedPass = false;
  private yields = 0;
  /** Steps running now, in every lane. */
  private inFlight = 0;
  /** A restart asked for while steps ran: applied when the last of them returns. */
  private pendingRestart: { fast: boolean } | null = null;

  constructor(options: WorkerRunnerOptions) {
    this.options = options;
    this.worker = options.worker;
    this.clock = options.clock ?? Date.now;
    this.baseLimits = options.limits ?? {};
    this.limiter = new RateLimiter(this.baseLimits, this.clock);
    const lanes = options.concurrency ?? (options.worker as Partial<ParallelWorker>).concurrency ?? 1;
    this.lanes = Math.max(1, Math.floor(lanes));
  }

  /** Loads the cursor and starts stepping in the background. */
  async start(): Promise<void> {
    const cursor = await this.options.cursors.loadCursor(this.worker.name);
    this.savedCursor = cursor;
    this.worker.resume?.(cursor);
    this.abort = new AbortController();
    // One long-lived signal serves every peer request this worker makes: many listeners are expected.
    setMaxListeners(0, this.abort.signal);
    this.rateWindow = { startMs: this.clock(), bytes: 0, items: 0 };
    const signal = this.abort.signal;
    this.done = Promise.all(Array.from({ length: this.lanes }, () => this.loop(signal))).then(() => undefined);
  }

  /** Ends an idle pause now. */
  kick(): void {
    this.kicked = true;
    for (const wake of this.wakes) wake();
  }

  /** Starts a new pass of the worker now; `fast` lifts the rate limits until that pass ends. */
  restartPass(fast: boolean): void {
    // A step in flight would carry on from its old position when it returns, and its cursor (or the end
    // of the old pass, which lifts a fast pass's limits) would undo the restart: it waits for that step.
    if (this.inFlight > 0) {
      this.pendingRestart = { fast };
      return;
    }
    this.applyRestart(fast);
  }

  /** `wake`: end an idle pause now (a lane that just finished a step goes on to the next without one). */
  private applyRestart(fast: boolean, wake = true): void {
    this.pendingRestart = null;
    this.worker.restart?.();
    this.unlimitedPass = fast;
    this.limiter.setLimits(fast ? {} : this.baseLimits);
    if (wake) this.kick();
  }

  /** Ends a step: true when a restart asked for while it ran was applied now, so its result describes a pass that is over. */
  private stepEnded(): boolean {
    this.inFlight -= 1;
    const pending = this.pendingRestart;
    if (pending === null || this.inFlight > 0) return false;
    this.applyRestart(pending.fast, false);
    return true;
  }

  /** Stops after the current step (which sees its signal abort). */
  async close(): Promise<void> {
    this.abort?.abort();
    for (const wake of this.wakes) wake();
    await this.done;
  }

  /** Figures for status output. */
  status(): RunnerStatus {
    return {
      name: this.worker.name,
      running: this.abort !== undefined && !this.abort.signal.aborted,
      steps: this.steps,
      failures: this.failures,
      lastError: this.lastError,
      ...this.rates,
      limits: this.limiter.current,
      lanes: this.lanes,
      yields: this.yields,
      worker: this.worker.status(),
    };
  }

  private async loop(signal: AbortSignal): Promise<void> {
    const { worker, cursors, logger } = this.options;
    while (!signal.aborted) {
      let idle = false;
      try {
        // Another lane's finished work may still be ahead of the limits.
        await this.limiter.waitForBudget(signal);
        const foreground = this.options.foreground;
        const startedMs = foreground?.now() ?? 0;
        this.inFlight += 1;
        let result: StepResult;
        let restarted: boolean;
        try {
          result = await worker.step(signal);
        } finally {
          restarted = this.stepEnded();
        }
        this.steps += 1;
        // A step whose pass was restarted under it reports on a pass that is over: its cursor is not
        // saved (the new pass saves its own) and its end is not the new pass's.
        if (!restarted && result.cursor !== this.savedCursor) {
          await cursors.saveCursor(worker.name, result.cursor);
          this.savedCursor = result.cursor;
        }
        this.account(result.bytes, result.items);
        await this.limiter.consume(result.bytes, result.items, signal);
        if (foreground !== undefined && !this.unlimitedPass && foreground.activeSince(startedMs)) {
          const yieldMs = Math.min(MAX_FOREGROUND_YIELD_MS, (foreground.now() - startedMs) * FOREGROUND_YIELD_FACTOR);
          if (yieldMs > 0) await sleep(yieldMs, undefined, { signal, ref: false }).catch(() => undefined);
          this.yields += 1;
        }
        idle = result.idle && !restarted;
        if (idle && this.unlimitedPass) {
          this.unlimitedPass = false;
          this.limiter.setLimits(this.baseLimits);
        }
      } catch (err) {
        if (signal.aborted) return;
        this.failures += 1;
        this.lastError = err instanceof Error ? err.message : String(err);
        logger.warn({ err, worker: worker.name }, 'background step failed');
        await this.pause(this.options.errorBackoffMs ?? 1_000, signal);
        continue;
      }
      if (idle) {
        // Only a runner idle in every lane forgets past work: a busy lane's work still counts.
        if (await this.pause(this.options.idleMs, signal)) this.limiter.reset();
      }
    }
  }

  private account(bytes: number, items: number): void {
    const now = this.clock();
    this.rateWindow.bytes += bytes;
    this.rateWindow.items += items;
    const elapsedMs = now - this.rateWindow.startMs;
    if (elapsedMs >= 1000) {
      this.rates = {
        bytesPerSecond: Math.round((this.rateWindow.bytes * 1000) / elapsedMs),
        itemsPerSecond: Math.round((this.rateWindow.items * 1000) / elapsedMs),
      };
      this.rateWindow = { startMs: now, bytes: 0, items: 0 };
    }
  }

  /** Waits `ms` or until kicked or closed; returns whether every lane was pausing (the runner was idle). */
  private async pause(ms: number, signal: AbortSignal): Promise<boolean> {
    if (this.kicked) {
      this.kicked = false;
      return this.pausedLanes + 1 === this.lanes;
    }
    const wakeup = new AbortController();
    const wake = (): void => wakeup.abort();
    this.wakes.add(wake);
    this.pausedLanes += 1;
    try {
      await sleep(ms, undefined, { signal: AbortSignal.any([signal, wakeup.signal]), ref: false });
    } catch {
      // Woken early: by a kick or by close.
    } finally {
      this.wakes.delete(wake);
      this.kicked = false;
    }
    const allIdle = this.pausedLanes === this.lanes;
    this.pausedLanes -= 1;
    if (allIdle && !signal.aborted && this.rates.bytesPerSecond + this.rates.itemsPerSecond > 0) this.rateWindow = { startMs: this.clock(), bytes: 0, items: 0 };
    return allIdle;
  }
}
