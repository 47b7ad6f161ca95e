import { readFile } from 'node:fs/promises';
import { watchFile, unwatchFile, type Stats } from 'node:fs';
import { parseRing, planChange, type Ring } from '../placement/index.js';
import type { Logger } from '../common/index.js';

/** Reads and validates a ring file. */
export async function loadRingFile(path: string): Promise<Ring> {
  return parseRing(await readFile(path, 'utf8'));
}

/**
 * Follows a ring file: when it changes and holds a newer epoch, hands the ring to `adopt` and logs
 * the change plan (partitions whose node sets changed). Polls the file's stat, which works on every
 * file system and for files replaced by rename, as `tessera ring` writes them.
 */
export class RingFileWatcher {
  private readonly path: string;
  private readonly logger: Logger;
  private readonly adopt: (ring: Ring) => Promise<boolean>;
  private readonly current: () => Ring;
  private readonly intervalMs: number;
  private readonly listener = (now: Stats, previous: Stats): void => {
    if (now.mtimeMs !== previous.mtimeMs || now.ino !== previous.ino) void this.reload();
  };

  constructor(options: { path: string; logger: Logger; current: () => Ring; adopt: (ring: Ring) => Promise<boolean>; intervalMs?: number }) {
    this.path = options.path;
    this.logger = options.logger;
    this.adopt = options.adopt;
    this.current = options.current;
    this.intervalMs = options.intervalMs ?? 2_000;
  }

  /** Starts watching. */
  start(): void {
    watchFile(this.path, { interval: this.intervalMs, persistent: false }, this.listener);
  }

  /** Reads the file now and adopts it if newer; a bad file is logged and the current ring kept. */
  async reload(): Promise<boolean> {
    try {
      const ring = await loadRingFile(this.path);
      const previous = this.current();
      if (ring.epoch <= previous.epoch) return false;
      const plan = planChange(previous, ring);
      const adopted = await this.adopt(ring);
      if (adopted) {
        this.logger.info({ fromEpoch: plan.fromEpoch, toEpoch: plan.toEpoch, partitionsMoved: plan.moves.length }, 'adopted a newer ring');
      }
      return adopted;
    } catch (err) {
      this.logger.error({ err, path: this.path }, 'ring file unreadable; keeping the current ring');
      return false;
    }
  }

  /** Stops watching. */
  close(): void {
    unwatchFile(this.path, this.listener);
  }
}
