import { isTimeoutFailure, type NodeClient, type NodeFailure } from '../../rpc/index.js';
import { quorumError } from '../s3/index.js';
import type { ReadDeadline } from './read-retry.js';
import type { CursorRow, RowCursor, RowPosition } from './row-cursor.js';

/**
 * The index pages of a read quorum of an index shard's replicas (of each set while a ring change moves
 * the shard), merged by key. A replica that fails is replaced by another of its set, read from where the
 * merge stands; with none left the listing fails with S3's 503. Rows are merged under `order` (rows
 * comparing equal are one merged row); `positionOf` says where the merge stands after a row (undefined:
 * where it stood).
 */
export class ReplicaMerge<R extends CursorRow> {
  private readonly readers: { node: NodeClient; group: number; cursor: RowCursor<R> }[] = [];
  private readonly spares: NodeClient[][];
  private readonly failures: NodeFailure[] = [];
  private readonly open: (node: NodeClient, start: RowPosition) => RowCursor<R>;
  private readonly bucket: string;
  private readonly deadline: ReadDeadline;
  private readonly signal: AbortSignal;
  private readonly order: (a: R, b: R) => number;
  private readonly positionOf: (row: R) => RowPosition | undefined;
  private position: RowPosition;

  constructor(
    groups: readonly (readonly NodeClient[])[],
    needed: number,
    open: (node: NodeClient, start: RowPosition) => RowCursor<R>,
    start: RowPosition,
    context: { bucket: string; deadline: ReadDeadline; signal: AbortSignal; order: (a: R, b: R) => number; positionOf: (row: R) => RowPosition | undefined },
  ) {
    this.order = context.order;
    this.positionOf = context.positionOf;
    this.open = open;
    this.position = start;
    this.bucket = context.bucket;
    this.deadline = context.deadline;
    this.signal = context.signal;
    this.spares = groups.map((group) => {
      // Listings spread over the replicas: each starts at a random one of its set.
      const first = Math.floor(Math.random() * group.length);
      return [...group.slice(first), ...group.slice(0, first)];
    });
    this.spares.forEach((spares, group) => {
      for (const node of spares.splice(0, Math.min(needed, spares.length))) this.readers.push({ node, group, cursor: open(node, start) });
    });
  }

  /** The next row of the merged pages: every reader's copy of it (its key's), and whether every reader had one. */
  async next(): Promise<{ key: string; rows: R[]; everyReader: boolean } | undefined> {
    for (;;) {
      const heads = await Promise.all(
        this.readers.map(async (reader): Promise<{ head: R | undefined } | { error: unknown }> => {
          try {
            return { head: await reader.cursor.head() };
          } catch (error) {
            return { error };
          }
        }),
      );
      const failed = heads.flatMap((outcome, i) => ('error' in outcome ? [i] : []));
      if (failed.length > 0) {
        for (const i of failed.reverse()) await this.replace(i, (heads[i] as { error: unknown }).error);
        continue;
      }
      let smallest: R | undefined;
      for (const outcome of heads) {
        const head = 'head' in outcome ? outcome.head : undefined;
        if (head !== undefined && (smallest === undefined || this.order(head, smallest) < 0)) smallest = head;
      }
      if (smallest === undefined) return undefined;
      const first = smallest;
      const rows: R[] = [];
      heads.forEach((outcome, i) => {
        const head = 'head' in outcome ? outcome.head : undefined;
        if (head === undefined || this.order(head, first) !== 0) return;
        rows.push(head);
        this.readers[i]?.cursor.pop();
      });
      this.position = this.positionOf(first) ?? this.position;
      return { key: first.key, rows, everyReader: rows.length === this.readers.length };
    }
  }

  /** Skips the rest of `key`'s rows on every replica. */
  skipKey(key: string): void {
    for (const reader of this.readers) reader.cursor.skipKey(key);
    this.position = { after: key, afterIsPrefix: false };
  }

  /** Skips every key under `prefix` (a common prefix just returned) on every replica. */
  skipPrefix(prefix: string): void {
    for (const reader of this.readers) reader.cursor.skipPrefix(prefix);
    // A merge read ahead past the prefix stays where it is.
    if (this.position.after.startsWith(prefix)) this.position = { after: prefix, afterIsPrefix: true };
  }

  /**
   * Replaces reader `i`, which failed, with a spare replica of its set read from where the merge stands.
   * With no spare left, a reader that only ran out of time is asked again after a pause while the
   * request's deadline allows (a busy machine slows a listing down rather than failing it).
   */
  private async replace(i: number, error: unknown): Promise<void> {
    const reader = this.readers[i] as { node: NodeClient; group: number };
    const failure = { nodeId: reader.node.nodeId, reason: error instanceof Error ? error.message : String(error), timedOut: isTimeoutFailure(error) };
    this.failures.push(failure);
    let node = this.spares[reader.group]?.shift();
    if (node === undefined && failure.timedOut && (await this.deadline.pause(this.failures.length, this.signal))) node = reader.node;
    if (node === undefined) throw quorumError('index listing', this.failures, this.bucket);
    this.readers[i] = { node, group: reader.group, cursor: this.open(node, this.position) };
  }
}
