import { setMaxListeners } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../../common/index.js';
import { RateLimiter, type RateLimits } from './rate-limiter.js';
import type { Worker, WorkerStatus } from './worker.js';

/** Where runners keep their cursors: node-local rows, so a restart resumes where the last step ended. */
export interface CursorStore {
  loadCursor(name: string): Promise<string | null>;
  saveCursor(name: string, cursor: string | null): Promise<void>;
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
  worker: WorkerStatus;
}

/**
 * Runs one worker until closed: step, persist the cursor, pace to the rate limits, and pause when the
 * worker is idle. `kick()` ends a pause at once (new work was queued, or an operator asked for a pass).
 */
export class WorkerRunner {
  readonly worker: Worker;
  private readonly options: WorkerRunnerOptions;
  private readonly limiter: RateLimiter;
  private readonly baseLimits: RateLimits;
  private readonly clock: () => number;
  private abort: AbortController | undefined;
  private done: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private kicked = false;
  private steps = 0;
  private failures = 0;
  private lastError: string | null = null;
  private rateWindow = { startMs: 0, bytes: 0, items: 0 };
  private rates = { bytesPerSecond: 0, itemsPerSecond: 0 };
  private unlimitedPass = false;

  constructor(options: WorkerRunnerOptions) {
    this.options = options;
    this.worker = options.worker;
    this.clock = options.clock ?? Date.now;
    this.baseLimits = options.limits ?? {};
    this.limiter = new RateLimiter(this.baseLimits, this.clock);
  }

  /** Loads the cursor and starts stepping in the background. */
  async start(): Promise<void> {
    const cursor = await this.options.cursors.loadCursor(this.worker.name);
    this.worker.resume?.(cursor);
    this.abort = new AbortController();
    // One long-lived signal serves every peer request this worker makes: many listeners are expected.
    setMaxListeners(0, this.abort.signal);
    this.rateWindow = { startMs: this.clock(), bytes: 0, items: 0 };
    this.done = this.loop(this.abort.signal);
  }

  /** Ends an idle pause now. */
  kick(): void {
    this.kicked = true;
    this.wake?.();
  }

  /** Starts a new pass of the worker now; `fast` lifts the rate limits until that pass ends. */
  restartPass(fast: boolean): void {
    this.worker.restart?.();
    this.unlimitedPass = fast;
    this.limiter.setLimits(fast ? {} : this.baseLimits);
    this.kick();
  }

  /** Stops after the current step (which sees its signal abort). */
  async close(): Promise<void> {
    this.abort?.abort();
    this.wake?.();
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
      worker: this.worker.status(),
    };
  }

  private async loop(signal: AbortSignal): Promise<void> {
    const { worker, cursors, logger } = this.options;
    while (!signal.aborted) {
      let idle = false;
      try {
        const result = await worker.step(signal);
        this.steps += 1;
        await cursors.saveCursor(worker.name, result.cursor);
        this.account(result.bytes, result.items);
        await this.limiter.consume(result.bytes, result.items, signal);
        idle = result.idle;
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
        await this.pause(this.options.idleMs, signal);
        this.limiter.reset();
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

  /** Waits `ms` or until kicked or closed. */
  private async pause(ms: number, signal: AbortSignal): Promise<void> {
    if (this.kicked) {
      this.kicked = false;
      return;
    }
    const wakeup = new AbortController();
    this.wake = () => wakeup.abort();
    try {
      await sleep(ms, undefined, { signal: AbortSignal.any([signal, wakeup.signal]), ref: false });
    } catch {
      // Woken early: by a kick or by close.
    } finally {
      this.wake = undefined;
      this.kicked = false;
      if (!signal.aborted && this.rates.bytesPerSecond + this.rates.itemsPerSecond > 0) this.rateWindow = { startMs: this.clock(), bytes: 0, items: 0 };
    }
  }
}
