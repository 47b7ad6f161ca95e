import { DEFAULTS } from '../../common/index.js';
import { isNewerRecord, type ListEntry, type NodeClient, type ObjectRecord } from '../../rpc/index.js';
import { compareUtf8, quorumError } from '../s3/index.js';
import { withTimeout } from './request-scope.js';

/** A listing request, in S3's terms. `after` is exclusive; `afterIsPrefix` skips a whole common prefix. */
export interface ListRequest {
  bucket: string;
  prefix: string;
  delimiter: string;
  after: string;
  afterIsPrefix: boolean;
  maxKeys: number;
}

/** A page of a listing. `next` is where the following page starts (the last key or common prefix returned). */
export interface ListResult {
  objects: ObjectRecord[];
  commonPrefixes: string[];
  isTruncated: boolean;
  next: { after: string; afterIsPrefix: boolean } | undefined;
}

/** One node's ordered stream of listing rows, fetched a page at a time. */
class NodeCursor {
  private buffer: ListEntry[] = [];
  private position = 0;
  private exhausted = false;
  private after: string;
  private afterIsPrefix: boolean;
  private readonly node: NodeClient;
  private readonly request: ListRequest;
  private readonly signal: AbortSignal;
  private readonly timeoutMs: number;

  constructor(node: NodeClient, request: ListRequest, signal: AbortSignal, timeoutMs: number) {
    this.node = node;
    this.request = request;
    this.signal = signal;
    this.timeoutMs = timeoutMs;
    this.after = request.after;
    this.afterIsPrefix = request.afterIsPrefix;
  }

  async head(): Promise<ListEntry | undefined> {
    if (this.position < this.buffer.length) return this.buffer[this.position];
    if (this.exhausted) return undefined;
    const page = await this.node.list(
      {
        bucket: this.request.bucket,
        prefix: this.request.prefix,
        after: this.after,
        afterIsPrefix: this.afterIsPrefix,
        limit: DEFAULTS.listPageEntries,
      },
      { signal: withTimeout(this.signal, this.timeoutMs) },
    );
    this.buffer = page.entries;
    this.position = 0;
    this.exhausted = !page.truncated;
    const last = page.entries.at(-1);
    if (last !== undefined) {
      this.after = last.key;
      this.afterIsPrefix = false;
    }
    return this.buffer[0];
  }

  pop(): void {
    this.position += 1;
  }

  /** Skips every row starting with `prefix`, from the buffer and on the node. */
  skipPrefix(prefix: string): void {
    while (this.position < this.buffer.length && (this.buffer[this.position] as ListEntry).key.startsWith(prefix)) {
      this.position += 1;
    }
    // The page ended inside the prefix: ask the node to resume past all of it.
    if (this.position === this.buffer.length && this.after.startsWith(prefix)) {
      this.after = prefix;
      this.afterIsPrefix = true;
    }
  }
}

/**
 * Lists a bucket by merging every node's ordered index: keeps the newest version of each key, hides
 * delete markers, rolls keys up into common prefixes, and pages exactly as S3 does (MaxKeys counts
 * objects plus prefixes; IsTruncated is true only when another entry really follows).
 * A node that cannot answer, or does not answer a page within `nodeTimeoutMs` (a cut link hangs
 * rather than refuses), is dropped for the rest of the listing while no more than
 * `toleratedFailures` are missing, since every key lives on several nodes.
 */
export async function listObjects(
  nodes: readonly NodeClient[],
  request: ListRequest,
  toleratedFailures: number,
  signal: AbortSignal,
  nodeTimeoutMs: number,
): Promise<ListResult> {
  let cursors = nodes.map((node) => new NodeCursor(node, request, signal, nodeTimeoutMs));
  const failures: { nodeId: string; reason: string }[] = [];
  const objects: ObjectRecord[] = [];
  const commonPrefixes: string[] = [];
  let next: ListResult['next'];

  // Returns the next visible entry, or undefined at the end of the listing.
  const nextEntry = async (): Promise<{ record: ObjectRecord } | { prefix: string } | undefined> => {
    for (;;) {
      const heads = await Promise.all(
        cursors.map(async (cursor, i) => {
          try {
            return await cursor.head();
          } catch (err) {
            failures.push({ nodeId: nodes[i]?.nodeId ?? String(i), reason: err instanceof Error ? err.message : String(err) });
            return null;
          }
        }),
      );
      if (heads.includes(null)) {
        if (failures.length > toleratedFailures) throw quorumError('list', failures);
        cursors = cursors.filter((_cursor, i) => heads[i] !== null);
        continue;
      }
      let smallest: string | undefined;
      for (const head of heads) {
        if (head && (smallest === undefined || compareUtf8(head.key, smallest) < 0)) smallest = head.key;
      }
      if (smallest === undefined) return undefined;
      let newest: ObjectRecord | undefined;
      heads.forEach((head, i) => {
        if (head?.key !== smallest) return;
        if (newest === undefined || isNewerRecord(head.record, newest)) newest = head.record;
        cursors[i]?.pop();
      });
      if (newest === undefined || newest.deleted) continue;
      if (request.delimiter !== '') {
        const at = smallest.indexOf(request.delimiter, request.prefix.length);
        if (at >= 0) {
          const prefix = smallest.slice(0, at + request.delimiter.length);
          for (const cursor of cursors) cursor.skipPrefix(prefix);
          return { prefix };
        }
      }
      return { record: newest };
    }
  };

  while (objects.length + commonPrefixes.length < request.maxKeys) {
    const entry = await nextEntry();
    if (entry === undefined) return { objects, commonPrefixes, isTruncated: false, next: undefined };
    if ('prefix' in entry) {
      commonPrefixes.push(entry.prefix);
      next = { after: entry.prefix, afterIsPrefix: true };
    } else {
      objects.push(entry.record);
      next = { after: entry.record.key, afterIsPrefix: false };
    }
  }
  // MaxKeys reached: truncated only if something visible follows.
  const following = await nextEntry();
  return { objects, commonPrefixes, isTruncated: following !== undefined, next: following === undefined ? undefined : next };
}
