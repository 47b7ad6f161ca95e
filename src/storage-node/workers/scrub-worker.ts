import { shardRefOf } from '../../rpc/index.js';
import type { HashIndexEntry } from '../metadata-store.js';
import { ShardCorruptError } from '../shard-file.js';
import { ShardStoreError, type ShardStore } from '../shard-store.js';
import type { HealingFigures } from './healing-figures.js';
import type { StepResult, Worker, WorkerStatus } from './worker.js';

/** Construction parameters of the deep scrubber. */
export interface ScrubWorkerOptions {
  store: ShardStore;
  figures: HealingFigures;
  /** Called when a shard was quarantined, so repair can start at once. */
  onQuarantine: () => void;
  /** Keys examined per step, and bytes read per step at most (a step ends after the shard that crosses it). */
  keysPerStep?: number;
  bytesPerStep?: number;
  clock?: () => number;
}

/**
 * Deep scrub: walks the node's placement index and reads every committed shard through the same
 * verified path a client read takes, so each chunk's xxhash64 is checked. A failing or missing shard
 * is quarantined by the store on the way; this worker only counts it and wakes repair. The cursor is
 * the last key verified, so a restarted node resumes its pass.
 */
export class ScrubWorker implements Worker {
  readonly name = 'scrub';
  private readonly options: ScrubWorkerOptions;
  private readonly clock: () => number;
  private after: HashIndexEntry | null = null;
  private passOpen = false;

  constructor(options: ScrubWorkerOptions) {
    this.options = options;
    this.clock = options.clock ?? Date.now;
  }

  resume(cursor: string | null): void {
    this.after = cursor === null ? null : (JSON.parse(cursor) as HashIndexEntry);
  }

  restart(): void {
    this.after = null;
    this.passOpen = false;
  }

  async step(signal: AbortSignal): Promise<StepResult> {
    const { store, figures } = this.options;
    if (!this.passOpen) {
      this.passOpen = true;
      figures.scrub.passStartedMs = this.clock();
      figures.scrub.keysScanned = 0;
      figures.scrub.keysTotal = await store.metadata.countKeys();
    }
    const page = await store.metadata.hashIndexPage(this.after, this.options.keysPerStep ?? 64);
    let bytes = 0;
    let items = 0;
    for (const entry of page) {
      signal.throwIfAborted();
      bytes += await this.verify(entry, signal);
      items += 1;
      this.after = entry;
      figures.scrub.keysScanned += 1;
      if (bytes >= (this.options.bytesPerStep ?? 4 * 1024 * 1024)) break;
    }
    if (page.length === 0) {
      this.after = null;
      this.passOpen = false;
      figures.scrub.passes += 1;
      figures.scrub.lastPassMs = this.clock();
      return { items, bytes, cursor: null, idle: true };
    }
    return { items, bytes, cursor: JSON.stringify(this.after), idle: false };
  }

  status(): WorkerStatus {
    return { pass: this.options.figures.scrub.passes + 1, at: this.after === null ? null : this.after.hashHex };
  }

  /** Reads one key's shard end to end; returns the bytes read. */
  private async verify(entry: HashIndexEntry, signal: AbortSignal): Promise<number> {
    const { store, figures } = this.options;
    const stored = await store.metadata.getObject(entry.bucket, entry.key);
    if (stored === undefined || stored.shardIndex === null) return 0;
    const ref = shardRefOf(stored.record, stored.shardIndex);
    if (await store.metadata.isQuarantined(ref)) return 0;
    let bytes = 0;
    try {
      const shard = await store.openShard(ref, 0, Number.MAX_SAFE_INTEGER);
      for await (const chunk of shard.chunks) {
        bytes += chunk.length;
        if (signal.aborted) {
          await shard.chunks.return(undefined);
          signal.throwIfAborted();
        }
      }
      figures.scrub.shardsVerified += 1;
      figures.scrub.bytesVerified += bytes;
    } catch (err) {
      if (err instanceof ShardCorruptError) {
        figures.scrub.checksumFailures += 1;
        this.options.onQuarantine();
      } else if (err instanceof ShardStoreError && err.code === 'NotFound') {
        // Missing bytes are quarantined by the store; a NotFound without that is a newer write racing the scrub.
        if (await store.metadata.isQuarantined(ref)) {
          figures.scrub.missingShards += 1;
          this.options.onQuarantine();
        }
      } else {
        throw err;
      }
    }
    return bytes;
  }
}
