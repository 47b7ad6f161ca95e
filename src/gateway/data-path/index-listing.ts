import { indexEntryOf, isNewerVersion, readQuorum, type IndexEntry, type IndexListResponse, type IndexRow, type NodeClient } from '../../rpc/index.js';
import { compareUtf8 } from '../s3/index.js';
import { indexReplicas, indexShardOf, type IndexedBucket } from './bucket-index.js';
import { collectPage, type ListedEntry, type ListRequest, type ListResult } from './list-merge.js';
import type { ListPathDeps } from './path-deps.js';
import { ReadDeadline } from './read-retry.js';
import { ReplicaMerge } from './replica-merge.js';
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
  const merge = new ReplicaMerge<IndexRow>(groups, needed, fetchFrom, { after: request.after, afterIsPrefix: request.afterIsPrefix }, {
    bucket: bucket.name,
    deadline,
    signal,
    order: (a, b) => compareUtf8(a.key, b.key),
    positionOf: (row) => ({ after: row.key, afterIsPrefix: false }),
  });

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
export async function readFromKeyNodes(ctx: RequestScope<ListPathDeps>, bucket: IndexedBucket, key: string, rows: readonly Pick<IndexRow, 'expired'>[]): Promise<IndexEntry | undefined> {
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
  }
  return entry;
}
