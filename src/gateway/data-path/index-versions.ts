import { compareVersionIds } from '../../common/index.js';
import { indexEntryOf, KeyVersionSieve, readQuorum, versionHides, type IndexEntry, type IndexVersionRow, type NodeClient } from '../../rpc/index.js';
import { compareUtf8 } from '../s3/index.js';
import { indexReadSets, type IndexedBucket } from './bucket-index.js';
import { readFromKeyNodes } from './index-listing.js';
import { collectVersionPage, listVersions, versionPageQuery, type ListedVersion, type VersionListRequest, type VersionListResult } from './list-versions.js';
import type { ListPathDeps } from './path-deps.js';
import { ReadDeadline } from './read-retry.js';
import { ReplicaMerge } from './replica-merge.js';
import type { RequestScope } from './request-scope.js';
import { ShardWalk, type ShardSpan } from './shard-walk.js';
import { longerThanAnyKey, RowCursor, type RowPosition } from './row-cursor.js';

/** What a version listing shows of a version: its index entry and key. */
export type ListedIndexVersion = IndexEntry & { key: string };

/** Versions of an unsettled key read from its own nodes per request. */
const KEY_NODE_PAGE = 100;

/**
 * ListObjectVersions of an indexed bucket from its index (docs/bucket-index.md): a read quorum of the
 * index shard's replicas in versions mode, merged row by row (key ascending, newest first). A version
 * one replica knows was deleted by id is not listed, nor one that a newer version replaced (what each
 * replaced: KeyVersionSieve); a key with a write in flight is read from its own nodes. IsLatest,
 * common prefixes, markers and truncation are as listVersions gives them.
 */
export async function listVersionsFromIndex(
  ctx: RequestScope<ListPathDeps>,
  bucket: IndexedBucket,
  request: VersionListRequest,
  deadline: ReadDeadline = ReadDeadline.of(ctx),
): Promise<VersionListResult<ListedIndexVersion>> {
  if (request.maxKeys === 0 || longerThanAnyKey(request.prefix)) return { versions: [], commonPrefixes: [], isTruncated: false, next: undefined };
  const { services, signal } = ctx;
  const needed = readQuorum(services.erasure.dataShards, services.erasure.parityShards);
  const resumesInKey = request.afterVersion !== undefined && !request.afterIsPrefix;
  const start: RowPosition = { after: request.after, afterIsPrefix: request.afterIsPrefix, afterVersion: resumesInKey ? request.afterVersion : undefined };
  const merge = new ShardWalk<IndexVersionRow>(bucket, request.prefix, start, (shard, from) => {
    const readSets = indexReadSets(services, bucket, shard.id);
    return new ReplicaMerge<IndexVersionRow>(readSets, needed, (node, at) => versionCursor(ctx, node, bucket, request, shard, at), from, {
      bucket: bucket.name,
      deadline,
      signal,
      order: versionRowOrder,
      positionOf: (row) => {
        const versionId = row.entry?.versionId ?? row.gone;
        return versionId === undefined ? undefined : { after: row.key, afterVersion: versionId, afterIsPrefix: false };
      },
    });
  });
  const anyVersionUnder = async (prefix: string): Promise<boolean> => {
    const beneath = { bucket: request.bucket, prefix, delimiter: '', after: '', afterVersion: undefined, afterIsPrefix: false, maxKeys: 1 };
    return (await listVersionsFromIndex(ctx, bucket, beneath, deadline)).versions.length > 0;
  };
  const prefixOf = (key: string): string | undefined => {
    if (request.delimiter === '') return undefined;
    const at = key.indexOf(request.delimiter, request.prefix.length);
    return at < 0 ? undefined : key.slice(0, at + request.delimiter.length);
  };

  // The key whose latest was listed last (a page resuming inside a key listed it on an earlier page).
  let lastListed: string | undefined = resumesInKey ? request.after : undefined;
  // The key being merged, what its versions so far hid, and the last of them decided.
  let key: string | undefined = lastListed;
  let sieve = new KeyVersionSieve();
  let keyAfter: string | undefined = resumesInKey ? request.afterVersion : undefined;

  const listed = (record: ListedIndexVersion): ListedVersion<ListedIndexVersion> => {
    const isLatest = lastListed !== record.key;
    lastListed = record.key;
    return { record, isLatest };
  };

  // A key the index cannot vouch for, from its own nodes: its versions after `after` (undefined: all).
  async function* fromKeyNodes(name: string, after: string | undefined, rows: readonly IndexVersionRow[]): AsyncGenerator<ListedVersion<ListedIndexVersion> | { prefix: string }> {
    // Intents past their deadline are settled with what the key's nodes hold.
    if (rows.some((row) => (row.expired ?? []).length > 0)) await readFromKeyNodes(ctx, bucket, name, rows);
    const sets = services.cluster.readSets(bucket.name, name);
    const nodes = [...sets.nodes, ...(sets.previous ?? []).filter((node) => !sets.nodes.includes(node))];
    let from = after;
    for (;;) {
      const page = await listVersions(
        nodes,
        { bucket: bucket.name, prefix: name, delimiter: '', after: from === undefined ? '' : name, afterVersion: from, afterIsPrefix: false, maxKeys: KEY_NODE_PAGE },
        services.erasure.parityShards,
        signal,
        () => services.metadataTimeoutMs,
        deadline,
      );
      for (const { record } of page.versions) {
        if (record.key !== name) return;
        const prefix = prefixOf(name);
        if (prefix !== undefined) {
          merge.skipPrefix(prefix);
          yield { prefix };
          return;
        }
        from = record.versionId;
        yield listed({ key: name, ...indexEntryOf(record) });
      }
      if (!page.isTruncated) return;
    }
  }

  async function* entries(): AsyncGenerator<ListedVersion<ListedIndexVersion> | { prefix: string }> {
    for (;;) {
      const merged = await merge.next();
      if (merged === undefined) return;
      const { rows } = merged;
      if (merged.key !== key) {
        key = merged.key;
        sieve = new KeyVersionSieve();
        keyAfter = undefined;
      }
      const head = rows[0] as IndexVersionRow;
      const versionId = head.entry?.versionId ?? head.gone;
      if (versionId === undefined) {
        // A row of no version: the key is not to be trusted, or what versions before the page hid.
        if (rows.some((row) => row.intent === true)) {
          merge.skipKey(merged.key);
          yield* fromKeyNodes(merged.key, keyAfter, rows);
          continue;
        }
        for (const row of rows) sieve.note(row.hides);
        continue;
      }
      const rollup = rows.find((row) => row.rollup !== undefined)?.rollup;
      if (rollup !== undefined) {
        // Every replica naming the same listed version first under the prefix settles it; otherwise the versions beneath decide.
        const agreed = merged.everyReader && rows.every((row) => row.rollup === rollup && row.entry !== undefined && row.gone === undefined);
        merge.skipPrefix(rollup);
        if (agreed || (await anyVersionUnder(rollup))) yield { prefix: rollup };
        continue;
      }
      const gone = rows.some((row) => row.gone !== undefined);
      const entry = rows.find((row) => row.entry !== undefined)?.entry;
      const hidden = gone || entry === undefined || sieve.hides(entry);
      for (const row of rows) if (row.gone !== undefined) sieve.note(row.hides);
      if (entry !== undefined) sieve.note(versionHides(entry));
      keyAfter = versionId;
      // Not listed: replaced or deleted by id, or a tombstone written without versioning (no version S3 would list).
      if (hidden || (entry.deleted && entry.versioning === undefined)) continue;
      const prefix = prefixOf(merged.key);
      if (prefix !== undefined) {
        merge.skipPrefix(prefix);
        yield { prefix };
        continue;
      }
      yield listed({ key: merged.key, ...entry });
    }
  }

  const stream = entries();
  try {
    return await collectVersionPage(request.maxKeys, async () => {
      const step = await stream.next();
      return step.done === true ? undefined : step.value;
    });
  } finally {
    await stream.return(undefined);
  }
}

/** Index rows in listing order: key ascending, a key's rows of no version first, then newest first. */
function versionRowOrder(a: IndexVersionRow, b: IndexVersionRow): number {
  const byKey = compareUtf8(a.key, b.key);
  if (byKey !== 0) return byKey;
  const idA = a.entry?.versionId ?? a.gone;
  const idB = b.entry?.versionId ?? b.gone;
  if (idA === undefined || idB === undefined) return idA === idB ? 0 : idA === undefined ? -1 : 1;
  return compareVersionIds(idB, idA);
}

/** One replica's index pages in versions mode, from `start`. */
function versionCursor(ctx: RequestScope<ListPathDeps>, node: NodeClient, bucket: IndexedBucket, request: VersionListRequest, shard: ShardSpan, start: RowPosition): RowCursor<IndexVersionRow> {
  const fetchPage = async (from: RowPosition & { limit: number }, pageSignal: AbortSignal) => {
    const page = await node.listIndexVersions({ ...versionPageQuery(request, from), bucket: bucket.name, incarnation: bucket.createdMs, from: shard.from, before: shard.before }, { signal: pageSignal });
    return { entries: page.rows, truncated: page.truncated, resume: page.resume };
  };
  return new RowCursor<IndexVersionRow>(fetchPage, start, { byVersion: true, signal: ctx.signal, timeoutMs: () => ctx.services.metadataTimeoutMs, firstPageEntries: request.maxKeys + 1 });
}
