import cluster, { type Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';
import type { Logger } from '../common/index.js';

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
