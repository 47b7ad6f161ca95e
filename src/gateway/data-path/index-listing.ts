import { indexEntryOf, isNewerVersion, isNullEntry, isTimeoutFailure, readQuorum, type IndexEntry, type IndexListResponse, type IndexRow, type NodeClient, type NodeFailure } from '../../rpc/index.js';
import { compareUtf8, quorumError } from '../s3/index.js';
import { indexReplicas, indexShardOf, type IndexedBucket } from './bucket-index.js';
import { collectPage, type ListedEntry, type ListRequest, type ListResult } from './list-merge.js';
import type { ListPathDeps } from './path-deps.js';
import { ReadDeadline } from './read-retry.js';
import { withTimeout, type RequestScope } from './request-scope.js';
import { longerThanAnyKey, rollupDelimiter, RowCursor, type RowPosition } from './row-cursor.js';
import { resolveVersion } from './version-lookup.js';

/** What a listing shows of a key: its newest version's entry. */
export type ListedObject = IndexEntry & { key: string };

/**
 * Lists an indexed bucket from its index (docs/bucket-index.md): a read quorum of the index shard's
 * replicas, merged key by key. A key is listed at its newest entry; a key with a write in flight, or
 * whose replicas disagree about a delete by id, is read from its own nodes instead (and intents past
 * their deadline are settled with what those say). Common prefixes, paging and truncation are S3's,
 * as listObjects does them.
 */
export async function listFromIndex(ctx: RequestScope<ListPathDeps>, bucket: IndexedBucket, request: ListRequest, deadline: ReadDeadline = ReadDeadline.of(ctx)): Promise<ListResult<ListedObject>> {
  if (request.maxKeys === 0 || longerThanAnyKey(request.prefix)) return { objects: [], commonPrefixes: [], isTruncated: false, next: undefined };
  const { services, signal } = ctx;
  const shard = indexShardOf(bucket, request.prefix);
  const sets = indexReplicas(services, bucket, shard);
  const needed = readQuorum(services.erasure.dataShards, services.erasure.parityShards);
  const fetchFrom = (node: NodeClient, start: RowPosition): RowCursor<IndexRow> => replicaCursor(ctx, node, bucket, request, start);
  const groups = sets.previous === undefined ? [sets.nodes] : [sets.nodes, sets.previous.filter((node) => !sets.nodes.includes(node))];
  const merge = new ReplicaMerge(groups, needed, fetchFrom, { after: request.after, afterIsPrefix: request.afterIsPrefix }, { bucket: bucket.name, deadline, signal });

  const anyVisibleUnder = async (prefix: string): Promise<boolean> => {
    const beneath = { bucket: request.bucket, prefix, delimiter: '', after: '', afterIsPrefix: false, maxKeys: 1 };
    return (await listFromIndex(ctx, bucket, beneath, deadline)).objects.length > 0;
  };

  // The next visible entry, or undefined at the end of the listing.
  const nextEntry = async (): Promise<ListedEntry<ListedObject> | undefined> => {
    for (;;) {
      const merged = await merge.next();
      if (merged === undefined) return undefined;
      const { key, rows } = merged;
      let entry = settledEntry(rows);
      const rollup = rows.find((row) => row.rollup !== undefined)?.rollup;
      if (rollup !== undefined) {
        // The replicas rolled the prefix up themselves. All of them naming the same settled live
        // version of the same first key settles it; otherwise the keys beneath decide.
        const agreed = merged.everyReader && rows.every((row) => row.rollup === rollup) && entry !== 'unsure' && entry !== undefined && !entry.deleted;
        merge.skipPrefix(rollup);
        if (agreed || (await anyVisibleUnder(rollup))) return { prefix: rollup };
        continue;
      }
      if (entry === 'unsure') entry = await readFromKeyNodes(ctx, bucket, key, rows);
      if (entry === undefined || entry.deleted) continue;
      if (request.delimiter !== '') {
        const at = key.indexOf(request.delimiter, request.prefix.length);
        if (at >= 0) {
          const prefix = key.slice(0, at + request.delimiter.length);
          merge.skipPrefix(prefix);
          return { prefix };
        }
      }
      return { object: { ...entry, key } };
    }
  };

  return collectPage(request.maxKeys, nextEntry);
}

/** One replica's index pages of a listing, from `start`. */
function replicaCursor(ctx: RequestScope<ListPathDeps>, node: NodeClient, bucket: IndexedBucket, request: ListRequest, start: RowPosition): RowCursor<IndexRow> {
  const fetchPage = async (from: RowPosition & { limit: number }, pageSignal: AbortSignal): Promise<{ entries: IndexRow[]; truncated: boolean; resume: IndexListResponse['resume'] }> => {
    const query = { bucket: bucket.name, incarnation: bucket.createdMs, prefix: request.prefix, after: from.after, afterIsPrefix: from.afterIsPrefix, limit: from.limit };
    const page = await node.listIndex({ ...query, delimiter: rollupDelimiter(request.delimiter) }, { signal: pageSignal });
    return { entries: page.rows, truncated: page.truncated, resume: page.resume };
  };
  return new RowCursor<IndexRow>(fetchPage, start, { byVersion: false, signal: ctx.signal, timeoutMs: () => ctx.services.metadataTimeoutMs });
}

/**
 * The newest entry the replicas' rows agree on; 'unsure' when a write of the key is in flight, or when a
 * replica's newest entry is a version another replica knows was deleted by id (the first may be behind).
 */
function settledEntry(rows: readonly IndexRow[]): IndexEntry | undefined | 'unsure' {
  if (rows.some((row) => row.intent === true)) return 'unsure';
  const gone = new Set(rows.flatMap((row) => row.gone ?? []));
  let newest: IndexEntry | undefined;
  for (const { entry } of rows) {
    if (entry === undefined) continue;
    if (gone.has(entry.versionId)) return 'unsure';
    if (newest === undefined || isNewerVersion(entry.versionId, newest.versionId)) newest = entry;
  }
  return newest;
}

/**
 * The key's newest version as its own nodes hold it (a read quorum, as a GET reads it). Intents the
 * replicas reported past their deadline name writes that can no longer commit: they are settled with
 * what the nodes said, so the next listing needs no such read.
 */
async function readFromKeyNodes(ctx: RequestScope<ListPathDeps>, bucket: IndexedBucket, key: string, rows: readonly IndexRow[]): Promise<IndexEntry | undefined> {
  const { services } = ctx;
  const resolved = await resolveVersion(services.cluster.readSets(bucket.name, key), bucket.name, key, services.erasure, withTimeout(ctx.signal, services.metadataTimeoutMs), {
    withDeleteMarkers: true,
  });
  const entry = resolved === null ? undefined : indexEntryOf(resolved.record);
  const expired = [...new Set(rows.flatMap((row) => row.expired ?? []))];
  if (expired.length > 0) {
    const replicas = indexReplicas(services, bucket, indexShardOf(bucket, key)).nodes;
    const scope = { op: 'settle' as const, bucket: bucket.name, incarnation: bucket.createdMs, key };
    for (const intent of expired) services.bucketIndex.settle(replicas, { ...scope, intent, ...(entry === undefined ? {} : { entry }) });
    // An entry a replica held before the nodes were read, newer than what they hold, is a version that
    // committed and was deleted by id since, its settle lost with the write's.
    const deleted = new Map<string, IndexEntry>();
    for (const { entry: held } of rows) {
      if (held !== undefined && (entry === undefined || isNewerVersion(held.versionId, entry.versionId))) deleted.set(held.versionId, held);
    }
    for (const held of deleted.values()) services.bucketIndex.settle(replicas, { ...scope, gone: held.versionId, ...(isNullEntry(held) ? { replaces: true } : {}) });
  }
  return entry;
}

/**
 * The index pages of a read quorum of an index shard's replicas (of each set while a ring change moves
 * the shard), merged by key. A replica that fails is replaced by another of its set, read from where the
 * merge stands; with none left the listing fails with S3's 503.
 */
class ReplicaMerge {
  private readonly readers: { node: NodeClient; group: number; cursor: RowCursor<IndexRow> }[] = [];
  private readonly spares: NodeClient[][];
  private readonly failures: NodeFailure[] = [];
  private readonly open: (node: NodeClient, start: RowPosition) => RowCursor<IndexRow>;
  private readonly bucket: string;
  private readonly deadline: ReadDeadline;
  private readonly signal: AbortSignal;
  private position: RowPosition;

  constructor(
    groups: readonly (readonly NodeClient[])[],
    needed: number,
    open: (node: NodeClient, start: RowPosition) => RowCursor<IndexRow>,
    start: RowPosition,
    context: { bucket: string; deadline: ReadDeadline; signal: AbortSignal },
  ) {
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

  /** The next key of the merged pages: every reader's row of it, and whether every reader had one. */
  async next(): Promise<{ key: string; rows: IndexRow[]; everyReader: boolean } | undefined> {
    for (;;) {
      const heads = await Promise.all(
        this.readers.map(async (reader): Promise<{ head: IndexRow | undefined } | { error: unknown }> => {
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
      let smallest: string | undefined;
      for (const outcome of heads) {
        const head = 'head' in outcome ? outcome.head : undefined;
        if (head !== undefined && (smallest === undefined || compareUtf8(head.key, smallest) < 0)) smallest = head.key;
      }
      if (smallest === undefined) return undefined;
      const rows: IndexRow[] = [];
      heads.forEach((outcome, i) => {
        const head = 'head' in outcome ? outcome.head : undefined;
        if (head === undefined || head.key !== smallest) return;
        rows.push(head);
        this.readers[i]?.cursor.pop();
      });
      this.position = { after: smallest, afterIsPrefix: false };
      return { key: smallest, rows, everyReader: rows.length === this.readers.length };
    }
  }

  /** Skips every key under `prefix` (a common prefix just returned) on every replica. */
  skipPrefix(prefix: string): void {
    for (const reader of this.readers) reader.cursor.skipPrefix(prefix);
    this.position = { after: prefix, afterIsPrefix: true };
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
