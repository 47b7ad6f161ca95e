import { DEFAULTS } from '../../common/index.js';
import { isNewerRecord, isTimeoutFailure, type ListEntry, type NodeFailure, type ObjectRecord } from '../../rpc/index.js';
import { MAX_KEY_BYTES, quorumError } from '../s3/index.js';
import type { ReadDeadline } from './read-retry.js';
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

/**
 * The same position named in at most MAX_KEY_BYTES bytes, so that a client's long marker fits a node
 * request. No key is longer: past that length a marker's first 1,024 bytes decide how each key sorts
 * against it; when they end inside a character, every key that starts with the bytes before it
 * sorts below the marker (its next character is shorter in UTF-8, so lower), and the listing resumes
 * after all of them. A longer position names no key, so a version within it means nothing.
 */
export function withinKeyLength(position: RowPosition): RowPosition {
  const bytes = Buffer.from(position.after, 'utf8');
  if (bytes.length <= MAX_KEY_BYTES) return position;
  let cut = MAX_KEY_BYTES;
  // A continuation byte (10xxxxxx) first past the cut: the cut is inside a character.
  while (cut > 0 && ((bytes[cut] as number) & 0xc0) === 0x80) cut -= 1;
  return { after: bytes.subarray(0, cut).toString('utf8'), afterVersion: undefined, afterIsPrefix: cut < MAX_KEY_BYTES };
}

/**
 * The delimiter a node rolls up on: none when it is longer than any key, since no key can hold it (and a
 * node refuses a longer one rather than read a client's unbounded text).
 */
export function rollupDelimiter(delimiter: string): string {
  return Buffer.byteLength(delimiter, 'utf8') > MAX_KEY_BYTES ? '' : delimiter;
}

/** Whether no key can start with `prefix`: it is longer than any key. */
export function longerThanAnyKey(prefix: string): boolean {
  return Buffer.byteLength(prefix, 'utf8') > MAX_KEY_BYTES;
}

/** What a cursor needs of a row: its key, the common prefix it stands for, and (version listings) its version. */
export interface CursorRow {
  key: string;
  rollup?: string | undefined;
  record?: { versionId: string };
}

/** Fetches one page of a node's rows from a position (a listing, a version listing or an index request). */
export type RowPageFetch<R extends CursorRow = ListEntry> = (
  from: RowPosition & { limit: number },
  signal: AbortSignal,
) => Promise<{ entries: R[]; truncated: boolean; resume?: { after: string; afterIsPrefix: boolean; afterVersion?: string | undefined } | undefined }>;

/**
 * One node's ordered stream of listing rows, fetched a page at a time; each page has `timeoutMs` (a
 * function: read as each page starts, so it follows the nodes' observed latency). A page that fails
 * leaves the cursor where it was, so `head()` may simply be called again.
 * With `byVersion`, a page ending inside a key resumes at the version after its last row (version
 * listings hold several rows per key); otherwise after the last key.
 */
export class RowCursor<R extends CursorRow = ListEntry> {
  private buffer: R[] = [];
  private position = 0;
  private exhausted = false;
  private from: RowPosition;
  private readonly fetchPage: RowPageFetch<R>;
  private readonly byVersion: boolean;
  private readonly signal: AbortSignal;
  private readonly timeoutMs: number | (() => number);
  /** Rows the next page asks for. */
  private pageEntries: number;

  /**
   * `firstPageEntries`: rows the first page asks for, at most one more than a full page: a page of N keys
   * needs N + 1 rows of each reader (unless some are hidden) to say whether more follow, and rows a node
   * reads beyond them are read again by the next listing page.
   */
  constructor(fetchPage: RowPageFetch<R>, start: RowPosition, options: { byVersion: boolean; signal: AbortSignal; timeoutMs: number | (() => number); firstPageEntries?: number }) {
    this.fetchPage = fetchPage;
    // A full S3 page (1,000 keys) needs 1,001 rows to know whether more follow: one fetch, not two.
    this.pageEntries = Math.max(1, Math.min(DEFAULTS.listPageEntries + 1, options.firstPageEntries ?? DEFAULTS.listPageEntries));
    this.from = { ...withinKeyLength(start) };
    this.byVersion = options.byVersion;
    this.signal = options.signal;
    this.timeoutMs = options.timeoutMs;
  }

  /** The head when it needs no page fetched (`{ head: undefined }` at the end of the rows), else undefined. */
  buffered(): { head: R | undefined } | undefined {
    if (this.position < this.buffer.length) return { head: this.buffer[this.position] };
    return this.exhausted ? { head: undefined } : undefined;
  }

  async head(): Promise<R | undefined> {
    if (this.position < this.buffer.length) return this.buffer[this.position];
    if (this.exhausted) return undefined;
    const page = await this.fetchPage({ ...this.from, limit: this.pageEntries }, withTimeout(this.signal, typeof this.timeoutMs === 'number' ? this.timeoutMs : this.timeoutMs()));
    this.pageEntries = DEFAULTS.listPageEntries;
    this.buffer = page.entries;
    this.position = 0;
    this.exhausted = !page.truncated;
    const last = page.entries.at(-1);
    if (page.resume !== undefined) this.from = { ...withinKeyLength({ ...page.resume, afterVersion: this.byVersion ? page.resume.afterVersion : undefined }) };
    // A row standing for a common prefix: the node skipped every other key under it.
    else if (last?.rollup !== undefined) this.from = { after: last.rollup, afterVersion: undefined, afterIsPrefix: true };
    else if (last !== undefined) this.from = { after: last.key, afterVersion: this.byVersion ? last.record?.versionId : undefined, afterIsPrefix: false };
    if (this.buffer.length === 0 && !this.exhausted) return this.head();
    return this.buffer[0];
  }

  pop(): void {
    this.position += 1;
  }

  /** Skips every row of `key`, from the buffer and on the node. */
  skipKey(key: string): void {
    while (this.position < this.buffer.length && (this.buffer[this.position] as R).key === key) this.position += 1;
    // The page ended inside the key: ask the node to resume past all of it.
    if (this.position === this.buffer.length && this.from.after === key && !this.from.afterIsPrefix) this.from = { after: key, afterVersion: undefined, afterIsPrefix: false };
  }

  /** Skips every row whose key starts with `prefix`, from the buffer and on the node. */
  skipPrefix(prefix: string): void {
    while (this.position < this.buffer.length && (this.buffer[this.position] as R).key.startsWith(prefix)) this.position += 1;
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
 * since every key lives on several nodes. Past that, pages that only ran out of time are asked again
 * (with a pause) until `deadline` passes, so a busy machine slows a listing down instead of failing
 * it; any other failure past the tolerance, or the deadline, fails the listing with S3's 503.
 */
export class MergedRows {
  private cursors: RowCursor[];
  private nodeIds: string[];
  private readonly toleratedFailures: number;
  private readonly failures: NodeFailure[] = [];
  private readonly deadline: ReadDeadline | undefined;
  private readonly signal: AbortSignal | undefined;

  constructor(
    sources: readonly { nodeId: string; cursor: RowCursor }[],
    toleratedFailures: number,
    retry?: { deadline: ReadDeadline; signal: AbortSignal },
  ) {
    this.cursors = sources.map((source) => source.cursor);
    this.nodeIds = sources.map((source) => source.nodeId);
    this.toleratedFailures = toleratedFailures;
    this.deadline = retry?.deadline;
    this.signal = retry?.signal;
  }

  /**
   * The next row in `compare` order (rows comparing equal are one row: the newest copy), or undefined at
   * the end. When the nodes' copies name different versions, `copies` lists each node's; `everyNode`
   * says whether every node still in the listing returned the row.
   */
  async next(compare: (a: ListEntry, b: ListEntry) => number): Promise<(ListEntry & { copies?: RowCopy[]; everyNode: boolean }) | undefined> {
    for (let attempt = 1; ; ) {
      const heads = await Promise.all(
        this.cursors.map(async (cursor): Promise<{ head: ListEntry | undefined } | { error: unknown }> => {
          try {
            return { head: await cursor.head() };
          } catch (error) {
            return { error };
          }
        }),
      );
      const failed = heads.flatMap((outcome, i) =>
        'error' in outcome ? [{ index: i, failure: { nodeId: this.nodeIds[i] as string, reason: reasonOf(outcome.error), timedOut: isTimeoutFailure(outcome.error) } }] : [],
      );
      if (failed.length > 0) {
        const refused = failed.filter((f) => f.failure.timedOut !== true);
        const total = this.failures.length + failed.length;
        // Slow nodes are waited for (asked again) only when dropping them would fail the listing.
        const waitForSlow =
          total > this.toleratedFailures &&
          this.failures.length + refused.length <= this.toleratedFailures &&
          this.deadline !== undefined &&
          this.signal !== undefined &&
          (await this.deadline.pause(attempt, this.signal));
        const dropped = waitForSlow ? refused : failed;
        this.failures.push(...dropped.map((f) => f.failure));
        if (!waitForSlow && this.failures.length > this.toleratedFailures) throw quorumError('list', this.failures);
        const gone = new Set(dropped.map((f) => f.index));
        this.cursors = this.cursors.filter((_cursor, i) => !gone.has(i));
        this.nodeIds = this.nodeIds.filter((_id, i) => !gone.has(i));
        if (waitForSlow) attempt += 1;
        continue;
      }
      let smallest: ListEntry | undefined;
      for (const outcome of heads) {
        const head = 'head' in outcome ? outcome.head : undefined;
        if (head && (smallest === undefined || compare(head, smallest) < 0)) smallest = head;
      }
      if (smallest === undefined) return undefined;
      const row = smallest;
      let newest = row.record;
      let gone = false;
      const copies: RowCopy[] = [];
      heads.forEach((outcome, i) => {
        const head = 'head' in outcome ? outcome.head : undefined;
        if (!head || compare(head, row) !== 0) return;
        if (isNewerRecord(head.record, newest)) newest = head.record;
        // One node's word that the version was deleted by id outweighs a node that missed the delete.
        if (head.gone === true) gone = true;
        copies.push({ nodeId: this.nodeIds[i] as string, record: head.record });
        this.cursors[i]?.pop();
      });
      const disagree = copies.some((copy) => copy.record.versionId !== newest.versionId);
      const everyNode = copies.length === this.cursors.length;
      return { key: row.key, record: newest, everyNode, ...(row.rollup === undefined ? {} : { rollup: row.rollup }), ...(gone ? { gone: true as const } : {}), ...(disagree ? { copies } : {}) };
    }
  }

  /** Skips every row whose key starts with `prefix` (a common prefix just returned) on every node. */
  skipPrefix(prefix: string): void {
    for (const cursor of this.cursors) cursor.skipPrefix(prefix);
  }
}

function reasonOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
