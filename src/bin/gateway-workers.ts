import cluster, { type Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';
import { AggregatorRegistry, type Registry } from 'prom-client';
import type { Logger } from '../common/index.js';
import type { MetricsText } from '../gateway/index.js';

/** IPC messages of /metrics: a worker asks the primary, which gathers every worker's registry (prom-client). */
const METRICS_ASK = 'tessera:metrics-ask';
const METRICS_ANSWER = 'tessera:metrics-answer';
/** A worker gives up on the primary's figures after this long. */
const METRICS_TIMEOUT_MS = 10_000;

interface MetricsMessage {
  type: string;
  id: number;
  text?: string;
  error?: string;
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
  return (own) => {
    shareWorkerMetrics(own.registry);
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

/** In a gateway worker: answer the primary's requests for this worker's figures with `registry`. */
export function shareWorkerMetrics(registry: Registry): void {
  // Constructing one adds prom-client's worker-side listener (once); setRegistries names what it reports.
  new AggregatorRegistry();
  AggregatorRegistry.setRegistries([registry]);
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
  private closing = false;

  constructor(options: { count: number; logger: Logger }) {
    this.count = options.count;
    this.logger = options.logger;
  }

  /** Forks the workers; resolves once each one listens. A worker that fails to start fails the whole start. */
  async start(): Promise<void> {
    const aggregator = new AggregatorRegistry();
    cluster.on('message', (worker, message: MetricsMessage) => {
      if (message?.type !== METRICS_ASK) return;
      aggregator.clusterMetrics().then(
        (text) => worker.send({ type: METRICS_ANSWER, id: message.id, text } satisfies MetricsMessage),
        (err: unknown) => worker.send({ type: METRICS_ANSWER, id: message.id, error: (err as Error).message } satisfies MetricsMessage),
      );
    });
    await Promise.all(Array.from({ length: this.count }, () => this.fork()));
    cluster.on('exit', (worker, code, signal) => {
      if (!this.workers.delete(worker) || this.closing) return;
      this.logger.error({ pid: worker.process.pid, code, signal }, 'gateway worker died; starting another');
      this.fork().catch((err: unknown) => this.logger.error({ err }, 'could not replace a gateway worker'));
    });
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
      const onExit = (code: number): void => {
        worker.off('listening', onListening);
        reject(new Error(`gateway worker exited with code ${code} before it listened`));
      };
      worker.once('listening', onListening);
      worker.once('exit', onExit);
    });
  }
}
