import { storedRef, type StoredObject, type VersionCursor } from '../metadata-store.js';
import { ShardCorruptError } from '../shard-file.js';
import { ShardStoreError, type ShardStore } from '../shard-store.js';
import type { HealingFigures } from './healing-figures.js';
import type { StepResult, Worker, WorkerStatus } from './worker.js';

/** The store as the scrubber uses it: version rows to walk, shards to read, and the quarantine to check. */
export type ScrubStore = Pick<ShardStore, 'countKeys' | 'versionRows' | 'quarantineRows' | 'openShard' | 'sealUnlinkedSegment'>;

/** Construction parameters of the deep scrubber. */
export interface ScrubWorkerOptions {
  store: ScrubStore;
  figures: HealingFigures;
  /** Called when a shard was quarantined, so repair can start at once. */
  onQuarantine: () => void;
  /** Version rows examined per step (a key's current version is one, each noncurrent one another), and bytes read per step at most (a step ends after the shard that crosses it). */
  keysPerStep?: number;
  bytesPerStep?: number;
  clock?: () => number;
}

/**
 * Deep scrub: walks every version the node keeps (its version rows in placement-index order, each key's
 * newest first: the current version and the noncurrent ones a versioned bucket or an overwrite of a
 * pre-versioning object kept) and reads each committed shard through the same verified path a client
 * read takes, so each chunk's xxhash64 is checked. Noncurrent versions are read rarely, so rot in them
 * would otherwise go unseen until more than m shards of a version were lost. A failing or missing
 * shard is quarantined by the store on the way, under its own version; this worker only counts it and
 * wakes repair. The cursor is the last version verified, so a restarted node resumes its pass.
 */
export class ScrubWorker implements Worker {
  readonly name = 'scrub';
  private readonly options: ScrubWorkerOptions;
  private readonly clock: () => number;
  private after: VersionCursor | null = null;
  private passOpen = false;
  /** The figures' `asked` when the open pass began. */
  private passAsked = 0;

  constructor(options: ScrubWorkerOptions) {
    this.options = options;
    this.clock = options.clock ?? Date.now;
  }

  resume(cursor: string | null): void {
    const after = cursor === null ? null : (JSON.parse(cursor) as Partial<VersionCursor>);
    // A cursor saved before noncurrent versions were scrubbed names a key alone: start the pass over rather than skip versions.
    this.after = after?.versionId === undefined ? null : (after as VersionCursor);
  }

  restart(): void {
    this.after = null;
    this.passOpen = false;
  }

  async step(signal: AbortSignal): Promise<StepResult> {
    const { store, figures } = this.options;
    if (!this.passOpen) {
      this.passOpen = true;
      this.passAsked = figures.scrub.asked;
      figures.scrub.passStartedMs = this.clock();
      // A segment removed from under the node is sealed first, so this pass finds its images missing.
      await store.sealUnlinkedSegment();
      figures.scrub.keysScanned = 0;
      figures.scrub.keysTotal = await store.countKeys();
    }
    // One page of version rows, however many versions a key has: a key with thousands is spread over steps.
    const { rows } = await store.versionRows.versionPage(this.after, this.options.keysPerStep ?? 64, 0n, null);
    let bytes = 0;
    let items = 0;
    for (const row of rows) {
      signal.throwIfAborted();
      const { after } = this;
      if (after === null || after.hashHex !== row.hashHex || after.bucket !== row.bucket || after.key !== row.key) figures.scrub.keysScanned += 1;
      bytes += await this.verify(row.stored, signal);
      items += 1;
      this.after = { hashHex: row.hashHex, bucket: row.bucket, key: row.key, versionId: row.stored.record.versionId };
      if (bytes >= (this.options.bytesPerStep ?? 4 * 1024 * 1024)) break;
    }
    if (rows.length === 0) {
      this.after = null;
      this.passOpen = false;
      figures.scrub.passes += 1;
      figures.scrub.lastPassMs = this.clock();
      figures.scrub.lastPassAsked = this.passAsked;
      return { items, bytes, cursor: null, idle: true };
    }
    return { items, bytes, cursor: JSON.stringify(this.after), idle: false };
  }

  status(): WorkerStatus {
    return { pass: this.options.figures.scrub.passes + 1, at: this.after === null ? null : this.after.hashHex };
  }

  /** Reads one version's shard end to end, current or noncurrent; returns the bytes read. */
  private async verify(stored: StoredObject, signal: AbortSignal): Promise<number> {
    const { store, figures } = this.options;
    const ref = storedRef(stored);
    if (ref === null || (await store.quarantineRows.isQuarantined(ref))) return 0;
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
        // Missing bytes are quarantined by the store; a NotFound without that is a version replaced or deleted while the scrub read it.
        if (await store.quarantineRows.isQuarantined(ref)) {
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
