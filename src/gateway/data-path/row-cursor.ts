import { DEFAULTS } from '../../common/index.js';
import { isNewerRecord, type ListEntry, type ObjectRecord } from '../../rpc/index.js';
import { quorumError } from '../s3/index.js';
import { withTimeout } from './request-scope.js';

/**
 * Where a node's listing resumes: after key `after`; with `afterVersion`, after that version of it
 * (version listings, newest first); with `afterIsPrefix`, after every key starting with `after`.
 */
export interface RowPosition {
  after: string;
  afterVersion?: string | undefined;
  afterIsPrefix: boolean;
}

/** Fetches one page of a node's rows from a position (a listing or a version listing request). */
export type RowPageFetch = (from: RowPosition & { limit: number }, signal: AbortSignal) => Promise<{ entries: ListEntry[]; truncated: boolean }>;

/**
 * One node's ordered stream of listing rows, fetched a page at a time; each page has `timeoutMs`.
 * With `byVersion`, a page ending inside a key resumes at the version after its last row (version
 * listings hold several rows per key); otherwise after the last key.
 */
export class RowCursor {
  private buffer: ListEntry[] = [];
  private position = 0;
  private exhausted = false;
  private from: RowPosition;
  private readonly fetchPage: RowPageFetch;
  private readonly byVersion: boolean;
  private readonly signal: AbortSignal;
  private readonly timeoutMs: number;

  constructor(fetchPage: RowPageFetch, start: RowPosition, options: { byVersion: boolean; signal: AbortSignal; timeoutMs: number }) {
    this.fetchPage = fetchPage;
    this.from = { ...start };
    this.byVersion = options.byVersion;
    this.signal = options.signal;
    this.timeoutMs = options.timeoutMs;
  }

  async head(): Promise<ListEntry | undefined> {
    if (this.position < this.buffer.length) return this.buffer[this.position];
    if (this.exhausted) return undefined;
    const page = await this.fetchPage({ ...this.from, limit: DEFAULTS.listPageEntries }, withTimeout(this.signal, this.timeoutMs));
    this.buffer = page.entries;
    this.position = 0;
    this.exhausted = !page.truncated;
    const last = page.entries.at(-1);
    if (last !== undefined) this.from = { after: last.key, afterVersion: this.byVersion ? last.record.versionId : undefined, afterIsPrefix: false };
    return this.buffer[0];
  }

  pop(): void {
    this.position += 1;
  }

  /** Skips every row whose key starts with `prefix`, from the buffer and on the node. */
  skipPrefix(prefix: string): void {
    while (this.position < this.buffer.length && (this.buffer[this.position] as ListEntry).key.startsWith(prefix)) this.position += 1;
    // The page ended inside the prefix: ask the node to resume past all of it.
    if (this.position === this.buffer.length && this.from.after.startsWith(prefix)) this.from = { after: prefix, afterVersion: undefined, afterIsPrefix: true };
  }
}

/** One node's copy of a merged row. */
export interface RowCopy {
  nodeId: string;
  record: ObjectRecord;
}

/**
 * Every node's cursor of one listing, merged: each step yields the smallest row under `compare`
 * (taken from every cursor that holds it, the newest copy kept) until all are exhausted. A node whose
 * page fails is dropped for the rest of the listing while at most `toleratedFailures` have failed,
 * since every key lives on several nodes; past that the listing fails with S3's 503.
 */
export class MergedRows {
  private cursors: RowCursor[];
  private nodeIds: string[];
  private readonly toleratedFailures: number;
  private readonly failures: { nodeId: string; reason: string }[] = [];

  constructor(sources: readonly { nodeId: string; cursor: RowCursor }[], toleratedFailures: number) {
    this.cursors = sources.map((source) => source.cursor);
    this.nodeIds = sources.map((source) => source.nodeId);
    this.toleratedFailures = toleratedFailures;
  }

  /**
   * The next row in `compare` order (rows comparing equal are one row: the newest copy), or undefined at
   * the end. When the nodes' copies name different versions, `copies` lists each node's.
   */
  async next(compare: (a: ListEntry, b: ListEntry) => number): Promise<(ListEntry & { copies?: RowCopy[] }) | undefined> {
    for (;;) {
      const heads = await Promise.all(
        this.cursors.map(async (cursor, i) => {
          try {
            return await cursor.head();
          } catch (err) {
            this.failures.push({ nodeId: this.nodeIds[i] as string, reason: err instanceof Error ? err.message : String(err) });
            return null;
          }
        }),
      );
      if (heads.includes(null)) {
        if (this.failures.length > this.toleratedFailures) throw quorumError('list', this.failures);
        this.cursors = this.cursors.filter((_cursor, i) => heads[i] !== null);
        this.nodeIds = this.nodeIds.filter((_id, i) => heads[i] !== null);
        continue;
      }
      let smallest: ListEntry | undefined;
      for (const head of heads) if (head && (smallest === undefined || compare(head, smallest) < 0)) smallest = head;
      if (smallest === undefined) return undefined;
      const row = smallest;
      let newest = row.record;
      let gone = false;
      const copies: RowCopy[] = [];
      heads.forEach((head, i) => {
        if (!head || compare(head, row) !== 0) return;
        if (isNewerRecord(head.record, newest)) newest = head.record;
        // One node's word that the version was deleted by id outweighs a node that missed the delete.
        if (head.gone === true) gone = true;
        copies.push({ nodeId: this.nodeIds[i] as string, record: head.record });
        this.cursors[i]?.pop();
      });
      const disagree = copies.some((copy) => copy.record.versionId !== newest.versionId);
      return { key: row.key, record: newest, ...(gone ? { gone: true as const } : {}), ...(disagree ? { copies } : {}) };
    }
  }

  /** Skips every row whose key starts with `prefix` (a common prefix just returned) on every node. */
  skipPrefix(prefix: string): void {
    for (const cursor of this.cursors) cursor.skipPrefix(prefix);
  }
}
