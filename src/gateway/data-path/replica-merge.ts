import { isTimeoutFailure, type NodeClient, type NodeFailure } from '../../rpc/index.js';
import { quorumError } from '../s3/index.js';
import type { ReadDeadline } from './read-retry.js';
import type { CursorRow, RowCursor, RowPosition } from './row-cursor.js';

/**
 * The index pages of a read quorum of an index shard's replicas (and, while a ring change moves the
 * shard, of a read quorum of the previous ring's set too), merged by key. A node in both sets is read
 * once and counts for both. A replica that fails is replaced by another of a set it leaves short, read
 * from where the merge stands; with none left the listing fails with S3's 503. Rows are merged under
 * `order` (rows comparing equal are one merged row); `positionOf` says where the merge stands after a
 * row (undefined: where it stood).
 */
export class ReplicaMerge<R extends CursorRow> {
  private readonly readers: { node: NodeClient; cursor: RowCursor<R> }[] = [];
  /** Each set's nodes in the order they are asked, from a random one (listings spread over the replicas). */
  private readonly sets: readonly (readonly NodeClient[])[];
  /** Nodes read or failed: never asked again, but for a retry after a timeout. */
  private readonly asked = new Set<string>();
  private readonly needed: number;
  private readonly failures: NodeFailure[] = [];
  private readonly open: (node: NodeClient, start: RowPosition) => RowCursor<R>;
  private readonly bucket: string;
  private readonly deadline: ReadDeadline;
  private readonly signal: AbortSignal;
  private readonly order: (a: R, b: R) => number;
  private readonly positionOf: (row: R) => RowPosition | undefined;
  private standing: RowPosition;

  constructor(
    sets: readonly (readonly NodeClient[])[],
    needed: number,
    open: (node: NodeClient, start: RowPosition) => RowCursor<R>,
    start: RowPosition,
    context: { bucket: string; deadline: ReadDeadline; signal: AbortSignal; order: (a: R, b: R) => number; positionOf: (row: R) => RowPosition | undefined },
  ) {
    this.order = context.order;
    this.positionOf = context.positionOf;
    this.open = open;
    this.standing = start;
    this.bucket = context.bucket;
    this.deadline = context.deadline;
    this.signal = context.signal;
    this.sets = sets.map((set) => {
      const first = Math.floor(Math.random() * set.length);
      return [...set.slice(first), ...set.slice(0, first)];
    });
    this.needed = needed;
    // Every node of a set is unasked at first, and a read quorum is no larger than a set.
    this.fill();
  }

  /** The next row of the merged pages: every reader's copy of it (its key's), and whether every reader had one. */
  async next(): Promise<{ key: string; rows: R[]; everyReader: boolean } | undefined> {
    for (;;) {
      // Most rows are in every reader's page already: only a reader at the end of its page is awaited.
      const heads =
        this.bufferedHeads() ??
        (await Promise.all(
          this.readers.map(async (reader): Promise<{ head: R | undefined } | { error: unknown }> => {
            try {
              return { head: await reader.cursor.head() };
            } catch (error) {
              return { error };
            }
          }),
        ));
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
      this.standing = this.positionOf(first) ?? this.position;
      return { key: first.key, rows, everyReader: rows.length === this.readers.length };
    }
  }

  /** Every reader's head when none needs a page fetched, else undefined. */
  private bufferedHeads(): { head: R | undefined }[] | undefined {
    const heads: { head: R | undefined }[] = [];
    for (const reader of this.readers) {
      const head = reader.cursor.buffered();
      if (head === undefined) return undefined;
      heads.push(head);
    }
    return heads;
  }

  /** Where the merge stands: after the last row it returned or skipped. */
  get position(): RowPosition {
    return this.standing;
  }

  /** Skips the rest of `key`'s rows on every replica. */
  skipKey(key: string): void {
    for (const reader of this.readers) reader.cursor.skipKey(key);
    this.standing = { after: key, afterIsPrefix: false };
  }

  /** Skips every key under `prefix` (a common prefix just returned) on every replica. */
  skipPrefix(prefix: string): void {
    for (const reader of this.readers) reader.cursor.skipPrefix(prefix);
    // A merge read ahead past the prefix stays where it is.
    if (this.standing.after.startsWith(prefix)) this.standing = { after: prefix, afterIsPrefix: true };
  }

  /**
   * Drops reader `i`, which failed, and reads a spare of each set it leaves short from where the merge
   * stands. With no spare left, a reader that only ran out of time is asked again after a pause while
   * the request's deadline allows (a busy machine slows a listing down rather than failing it).
   */
  private async replace(i: number, error: unknown): Promise<void> {
    const reader = this.readers.splice(i, 1)[0] as { node: NodeClient };
    const failure = { nodeId: reader.node.nodeId, reason: error instanceof Error ? error.message : String(error), timedOut: isTimeoutFailure(error) };
    this.failures.push(failure);
    if (this.fill()) return;
    if (failure.timedOut && (await this.deadline.pause(this.failures.length, this.signal))) {
      this.readers.push({ node: reader.node, cursor: this.open(reader.node, this.standing) });
      if (this.fill()) return;
    }
    throw quorumError('index listing', this.failures, this.bucket);
  }

  /** Opens readers on unasked nodes until every set has a read quorum read; false when one cannot. */
  private fill(): boolean {
    for (const set of this.sets) {
      let reading = this.readers.filter((reader) => set.some((node) => node.nodeId === reader.node.nodeId)).length;
      for (const node of set) {
        if (reading >= this.needed) break;
        if (this.asked.has(node.nodeId)) continue;
        this.asked.add(node.nodeId);
        this.readers.push({ node, cursor: this.open(node, this.standing) });
        reading += 1;
      }
      if (reading < this.needed) return false;
    }
    return true;
  }
}
