import cluster, { type Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';
import { AggregatorRegistry, type MetricObjectWithValues, type MetricValue, type Registry } from 'prom-client';
import type { Logger } from '../common/index.js';
import type { MetricsText } from '../gateway/index.js';

/**
 * IPC messages of /metrics. A worker asks the primary (ASK); the primary asks every worker whose figures
 * are ready (COLLECT) for its registry as JSON (FIGURES) and answers with them aggregated (ANSWER). A
 * worker says READY once its gateway is up: a worker still starting, or starting again after a crash,
 * has nothing to report and would never answer, so it is left out rather than waited for.
 */
const METRICS_ASK = 'tessera:metrics-ask';
const METRICS_ANSWER = 'tessera:metrics-answer';
const METRICS_READY = 'tessera:metrics-ready';
const METRICS_COLLECT = 'tessera:metrics-collect';
const METRICS_FIGURES = 'tessera:metrics-figures';
/** A worker gives up on the primary's figures after this long. */
const METRICS_TIMEOUT_MS = 10_000;
/** The primary gives up on one worker's figures after this long (and reports the others'). */
const WORKER_FIGURES_TIMEOUT_MS = 5_000;

interface MetricsMessage {
  type: string;
  id: number;
  text?: string;
  error?: string;
  figures?: MetricObjectWithValues<MetricValue<string>>[];
}

/**
 * In a gateway worker: the /metrics text of every worker together, asked of the primary, so a scrape
 * that any one worker answers shows the whole gateway. Undefined outside a worker (one process).
 */
export function gatewayMetricsText(): MetricsText | undefined {
  if (!cluster.isWorker) return undefined;
  const waiting = new Map<number, { resolve: (text: string) => void; reject: (err: Error) => void }>();
  let nextId = 0;
  process.on('message', (message: MetricsMessage) => {
    if (message?.type !== METRICS_ANSWER) return;
    const waiter = waiting.get(message.id);
    if (waiter === undefined) return;
    waiting.delete(message.id);
    if (message.text !== undefined) waiter.resolve(message.text);
    else waiter.reject(new Error(message.error ?? 'no metrics from the primary'));
  });
  return () => {
    const id = nextId++;
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        waiting.delete(id);
        reject(new Error('the gateway primary did not answer with metrics'));
      }, METRICS_TIMEOUT_MS);
      waiting.set(id, {
        resolve: (text) => {
          clearTimeout(timer);
          resolve(text);
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      });
      process.send?.({ type: METRICS_ASK, id } satisfies MetricsMessage);
    });
  };
}

/** In a gateway worker whose gateway is up: answer the primary's requests for figures with `registry`, and say so. */
export function shareWorkerMetrics(registry: Registry): void {
  process.on('message', (message: MetricsMessage) => {
    if (message?.type !== METRICS_COLLECT) return;
    registry.getMetricsAsJSON().then(
      (figures) => process.send?.({ type: METRICS_FIGURES, id: message.id, figures } satisfies MetricsMessage),
      (err: unknown) => process.send?.({ type: METRICS_FIGURES, id: message.id, error: (err as Error).message } satisfies MetricsMessage),
    );
  });
  process.send?.({ type: METRICS_READY, id: 0 } satisfies MetricsMessage);
}

/** `--workers`: a whole number of gateway processes, or `auto` for one per core. */
export function gatewayWorkerCount(flag: string | undefined): number {
  if (flag === undefined) return 1;
  if (flag === 'auto') return availableParallelism();
  const count = Number(flag);
  if (!Number.isInteger(count) || count < 1 || count > 256) throw new Error(`--workers must be a whole number from 1 to 256 or auto, got ${JSON.stringify(flag)}`);
  return count;
}

/**
 * The primary of a multi-process gateway: forks `count` workers that each run the same `tessera
 * gateway` on the same address (the primary hands out connections), forwards SIGHUP to them, replaces
 * one that dies, and stops them all on close. Gateways are stateless, so the workers share nothing
 * but the listening socket; each follows the ring and serves any request.
 */
export class GatewayWorkers {
  private readonly count: number;
  private readonly logger: Logger;
  private readonly workers = new Set<Worker>();
  /** Workers whose figures are ready (they said so), and the collections waiting on each. */
  private readonly reporting = new Map<Worker, Map<number, (figures: MetricsMessage['figures']) => void>>();
  private nextCollection = 0;
  private closing = false;
  /** Every worker listened once: from then on one that dies is replaced. */
  private started = false;

  constructor(options: { count: number; logger: Logger }) {
    this.count = options.count;
    this.logger = options.logger;
  }

  /**
   * Forks the workers; resolves once each one listens. A worker that exits before it listens fails the
   * whole start, and the workers already started are stopped with it: a primary left serving with fewer
   * workers than asked, and none to replace the one that died, would look healthy and never recover.
   */
  async start(): Promise<void> {
    cluster.on('message', (worker, message: MetricsMessage) => {
      if (message?.type === METRICS_READY) this.reporting.set(worker, new Map());
      // Settling a collection removes it from the worker's map.
      else if (message?.type === METRICS_FIGURES) this.reporting.get(worker)?.get(message.id)?.(message.figures);
      else if (message?.type === METRICS_ASK) {
        this.gatherMetrics().then(
          (text) => worker.send({ type: METRICS_ANSWER, id: message.id, text } satisfies MetricsMessage),
          (err: unknown) => worker.send({ type: METRICS_ANSWER, id: message.id, error: (err as Error).message } satisfies MetricsMessage),
        );
      }
    });
    // Watched from the first fork: a worker may die before its siblings listen.
    cluster.on('exit', (worker, code, signal) => {
      this.stopReporting(worker);
      if (!this.workers.delete(worker) || this.closing || !this.started) return;
      this.logger.error({ pid: worker.process.pid, code, signal }, 'gateway worker died; starting another');
      this.fork().catch((err: unknown) => this.logger.error({ err }, 'could not replace a gateway worker'));
    });
    try {
      await Promise.all(Array.from({ length: this.count }, () => this.fork()));
    } catch (err) {
      await this.close();
      throw err;
    }
    this.started = true;
  }

  /** The figures of every worker that reports, aggregated (counters summed, as prom-client's cluster mode does). */
  private async gatherMetrics(): Promise<string> {
    const id = this.nextCollection++;
    const answers = await Promise.all(
      [...this.reporting].map(
        ([worker, collection]) =>
          new Promise<MetricsMessage['figures']>((resolve) => {
            const timer = setTimeout(() => settle(undefined), WORKER_FIGURES_TIMEOUT_MS);
            const settle = (figures: MetricsMessage['figures']): void => {
              clearTimeout(timer);
              collection.delete(id);
              resolve(figures);
            };
            collection.set(id, settle);
            worker.send({ type: METRICS_COLLECT, id } satisfies MetricsMessage);
          }),
      ),
    );
    const figures = answers.filter((answer) => answer !== undefined);
    if (figures.length === 0) throw new Error('no gateway worker reported its figures');
    return AggregatorRegistry.aggregate(figures).metrics();
  }

  /** A worker that exited reports no more: collections waiting on it go on without it. */
  private stopReporting(worker: Worker): void {
    const collection = this.reporting.get(worker);
    this.reporting.delete(worker);
    for (const settle of collection?.values() ?? []) settle(undefined);
  }

  /** Asks every worker to look for a newer ring and re-read its certificate. */
  reload(): void {
    for (const worker of this.workers) worker.process.kill('SIGHUP');
  }

  /** Stops every worker (each closes its gateway cleanly) and waits for them to exit. */
  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(
      [...this.workers].map(
        (worker) =>
          new Promise<void>((resolve) => {
            if (worker.isDead()) {
              resolve();
              return;
            }
            worker.once('exit', () => resolve());
            worker.process.kill('SIGTERM');
          }),
      ),
    );
  }

  private fork(): Promise<void> {
    const worker = cluster.fork();
    this.workers.add(worker);
    return new Promise<void>((resolve, reject) => {
      const onListening = (): void => {
        worker.off('exit', onExit);
        resolve();
      };
      const onExit = (code: number | null, signal: NodeJS.Signals | null): void => {
        worker.off('listening', onListening);
        reject(new Error(`gateway worker exited ${signal === null ? `with code ${code}` : `on ${signal}`} before it listened`));
      };
      worker.once('listening', onListening);
      worker.once('exit', onExit);
    });
  }
}
