import { indexEntryOf, isNewerVersion, isNullEntry, readQuorum, type IndexEntry, type IndexListResponse, type IndexRow, type NodeClient } from '../../rpc/index.js';
import { compareUtf8 } from '../s3/index.js';
import { indexReadSets, writeReplicas, type IndexedBucket } from './bucket-index.js';
import { collectPage, type ListedEntry, type ListRequest, type ListResult } from './list-merge.js';
import type { ListPathDeps } from './path-deps.js';
import { ReadDeadline } from './read-retry.js';
import { ReplicaMerge } from './replica-merge.js';
import { withTimeout, type RequestScope } from './request-scope.js';
import { ShardWalk, type ShardSpan } from './shard-walk.js';
import { longerThanAnyKey, rollupDelimiter, RowCursor, type RowPosition } from './row-cursor.js';
import { resolveVersion } from './version-lookup.js';

/** Checks of keys the index cannot vouch for, run ahead of the page at once. */
const READ_AHEAD_CHECKS = 8;
/** Keys read ahead of the page while its next key waits on a check. */
const READ_AHEAD_KEYS = 64;

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
  const needed = readQuorum(services.erasure.dataShards, services.erasure.parityShards);
  const merge = new ShardWalk<IndexRow>(bucket, request.prefix, { after: request.after, afterIsPrefix: request.afterIsPrefix }, (shard, start) => {
    const readSets = indexReadSets(services, bucket, shard.id);
    return new ReplicaMerge<IndexRow>(readSets, needed, (node, from) => replicaCursor(ctx, node, bucket, request, shard, from), start, {
      bucket: bucket.name,
      deadline,
      signal,
      order: (a, b) => compareUtf8(a.key, b.key),
      positionOf: (row) => ({ after: row.key, afterIsPrefix: false }),
    });
  });

  const anyVisibleUnder = async (prefix: string): Promise<boolean> => {
    const beneath = { bucket: request.bucket, prefix, delimiter: '', after: '', afterIsPrefix: false, maxKeys: 1 };
    return (await listFromIndex(ctx, bucket, beneath, deadline)).objects.length > 0;
  };

  // Merged keys in page order, each with what decides it: at once when the replicas agree, else a
  // check (the key's own nodes, or the keys beneath a prefix) that may run ahead of the page.
  const window: { key: string; decided: Promise<ListedEntry<ListedObject> | undefined>; waiting: boolean }[] = [];
  let ended = false;

  const itemOf = (merged: { key: string; rows: IndexRow[]; everyReader: boolean }): (typeof window)[number] => {
    const { key, rows } = merged;
    const entry = settledEntry(rows);
    const rollup = rows.find((row) => row.rollup !== undefined)?.rollup;
    let decided: Promise<ListedEntry<ListedObject> | undefined>;
    if (rollup !== undefined) {
      // The replicas rolled the prefix up themselves. All of them naming the same settled live
      // version of the same first key settles it; otherwise the keys beneath decide.
      const agreed = merged.everyReader && rows.every((row) => row.rollup === rollup) && entry !== 'unsure' && entry !== undefined && !entry.deleted;
      merge.skipPrefix(rollup);
      decided = agreed ? Promise.resolve({ prefix: rollup }) : anyVisibleUnder(rollup).then((any) => (any ? { prefix: rollup } : undefined));
    } else if (entry === 'unsure') {
      decided = readFromKeyNodes(ctx, bucket, key, rows).then((truth) => visible(key, truth));
    } else {
      decided = Promise.resolve(visible(key, entry));
    }
    const item = { key, decided, waiting: rollup !== undefined || entry === 'unsure' };
    // A check read ahead may be dropped unread (its key rolled up into a prefix): its failure is the page's only if the page waits for it.
    decided.then(
      () => (item.waiting = false),
      () => (item.waiting = false),
    );
    return item;
  };

  // Reads ahead while the page's next key waits on a check: up to READ_AHEAD_CHECKS checks at once.
  const fill = async (): Promise<void> => {
    while (!ended && (window.length === 0 || ((window[0] as (typeof window)[number]).waiting && window.filter((item) => item.waiting).length < READ_AHEAD_CHECKS && window.length < READ_AHEAD_KEYS))) {
      const merged = await merge.next();
      if (merged === undefined) ended = true;
      else window.push(itemOf(merged));
    }
  };

  // The next visible entry, or undefined at the end of the listing.
  const nextEntry = async (): Promise<ListedEntry<ListedObject> | undefined> => {
    for (;;) {
      await fill();
      const item = window.shift();
      if (item === undefined) return undefined;
      const entry = await item.decided;
      if (entry === undefined) continue;
      if ('prefix' in entry) {
        // Keys read ahead under the prefix are in it.
        while (window[0]?.key.startsWith(entry.prefix) === true) window.shift();
        merge.skipPrefix(entry.prefix);
      }
      return entry;
    }
  };

  // What a listing shows of a key whose newest entry is `entry`: nothing, the key, or its common prefix.
  const visible = (key: string, entry: IndexEntry | undefined): ListedEntry<ListedObject> | undefined => {
    if (entry === undefined || entry.deleted) return undefined;
    if (request.delimiter !== '') {
      const at = key.indexOf(request.delimiter, request.prefix.length);
      if (at >= 0) return { prefix: key.slice(0, at + request.delimiter.length) };
    }
    return { object: { ...entry, key } };
  };

  return collectPage(request.maxKeys, nextEntry);
}

/** One replica's index pages of a listing, from `start`. */
function replicaCursor(ctx: RequestScope<ListPathDeps>, node: NodeClient, bucket: IndexedBucket, request: ListRequest, shard: ShardSpan, start: RowPosition): RowCursor<IndexRow> {
  const fetchPage = async (from: RowPosition & { limit: number }, pageSignal: AbortSignal): Promise<{ entries: IndexRow[]; truncated: boolean; resume: IndexListResponse['resume'] }> => {
    const query = { bucket: bucket.name, incarnation: bucket.createdMs, prefix: request.prefix, after: from.after, afterIsPrefix: from.afterIsPrefix, limit: from.limit, from: shard.from, before: shard.before };
    const page = await node.listIndex({ ...query, delimiter: rollupDelimiter(request.delimiter) }, { signal: pageSignal });
    return { entries: page.rows, truncated: page.truncated, resume: page.resume };
  };
  return new RowCursor<IndexRow>(fetchPage, start, { byVersion: false, signal: ctx.signal, timeoutMs: () => ctx.services.metadataTimeoutMs, firstPageEntries: request.maxKeys + 1 });
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
export async function readFromKeyNodes(ctx: RequestScope<ListPathDeps>, bucket: IndexedBucket, key: string, rows: readonly Pick<IndexRow, 'expired' | 'entry'>[]): Promise<IndexEntry | undefined> {
  const { services } = ctx;
  const resolved = await resolveVersion(services.cluster.readSets(bucket.name, key), bucket.name, key, services.erasure, withTimeout(ctx.signal, services.metadataTimeoutMs), {
    withDeleteMarkers: true,
  });
  const entry = resolved === null ? undefined : indexEntryOf(resolved.record);
  const expired = [...new Set(rows.flatMap((row) => row.expired ?? []))];
  if (expired.length > 0) {
    const replicas = writeReplicas(services, bucket, key);
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
