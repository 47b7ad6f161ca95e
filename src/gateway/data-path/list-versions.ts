import { compareVersionIds } from '../../common/index.js';
import type { ListEntry, NodeClient, ObjectRecord, VersionListQuery } from '../../rpc/index.js';
import { compareUtf8 } from '../s3/index.js';
import type { ReadDeadline } from './read-retry.js';
import { longerThanAnyKey, MergedRows, rollupDelimiter, RowCursor, type RowPageFetch, type RowPosition } from './row-cursor.js';

/**
 * A version listing request, in S3's terms. The listing resumes after version `afterVersion` of key
 * `after` (`null` names its null version); without `afterVersion`, after every version of `after`;
 * with `afterIsPrefix`, after every key starting with `after`.
 */
export interface VersionListRequest {
  bucket: string;
  prefix: string;
  delimiter: string;
  after: string;
  afterVersion: string | undefined;
  afterIsPrefix: boolean;
  maxKeys: number;
}

/** One listed version or delete marker (its record, or what the bucket index holds of it), and whether it is its key's latest. */
export interface ListedVersion<R = ObjectRecord> {
  record: R;
  isLatest: boolean;
}

/** A page of a version listing; `next` is where the following page starts. */
export interface VersionListResult<R = ObjectRecord> {
  versions: ListedVersion<R>[];
  commonPrefixes: string[];
  isTruncated: boolean;
  next: { key: string; version: R | undefined } | undefined;
}

/** What a node is asked for one page of a version listing, resuming at `from`. */
export function versionPageQuery(request: VersionListRequest, from: RowPosition & { limit: number }): VersionListQuery {
  return {
    bucket: request.bucket,
    prefix: request.prefix,
    after: from.after,
    afterIsPrefix: from.afterIsPrefix,
    limit: from.limit,
    ...(from.afterVersion === undefined ? {} : { afterVersion: from.afterVersion }),
    delimiter: rollupDelimiter(request.delimiter),
  };
}

/**
 * A page of up to `maxKeys` versions and common prefixes from `nextEntry` (undefined at the end), as S3
 * pages them: MaxKeys counts both, and the page is truncated only when something visible follows.
 */
export async function collectVersionPage<R extends { key: string }>(
  maxKeys: number,
  nextEntry: () => Promise<ListedVersion<R> | { prefix: string } | undefined>,
): Promise<VersionListResult<R>> {
  const versions: ListedVersion<R>[] = [];
  const commonPrefixes: string[] = [];
  let next: VersionListResult<R>['next'];
  while (versions.length + commonPrefixes.length < maxKeys) {
    const entry = await nextEntry();
    if (entry === undefined) return { versions, commonPrefixes, isTruncated: false, next: undefined };
    if ('prefix' in entry) {
      commonPrefixes.push(entry.prefix);
      next = { key: entry.prefix, version: undefined };
    } else {
      versions.push(entry);
      next = { key: entry.record.key, version: entry.record };
    }
  }
  const following = await nextEntry();
  return { versions, commonPrefixes, isTruncated: following !== undefined, next: following === undefined ? undefined : next };
}

/** Listing order: key ascending (UTF-8 bytes), then newest version first. */
function compareEntries(a: ListEntry, b: ListEntry): number {
  const byKey = compareUtf8(a.key, b.key);
  if (byKey !== 0) return byKey;
  return compareVersionIds(b.record.versionId, a.record.versionId);
}

/** Every node's version rows of the listing, merged in listing order (see MergedRows). */
function mergedVersionRows(
  nodes: readonly NodeClient[],
  request: VersionListRequest,
  toleratedFailures: number,
  signal: AbortSignal,
  nodeTimeoutMs: number | (() => number),
  deadline: ReadDeadline | undefined,
): MergedRows {
  const fetchPage = (node: NodeClient): RowPageFetch => (from, pageSignal) => node.listVersions(versionPageQuery(request, from), { signal: pageSignal });
  return new MergedRows(
    nodes.map((node) => ({ nodeId: node.nodeId, cursor: new RowCursor(fetchPage(node), request, { byVersion: true, signal, timeoutMs: nodeTimeoutMs, firstPageEntries: request.maxKeys + 1 }) })),
    toleratedFailures,
    deadline === undefined ? undefined : { deadline, signal },
  );
}

/**
 * ListObjectVersions: merges every node's version rows (key ascending, newest first), keeps one copy
 * of each version, marks each key's first version IsLatest, rolls keys up into common prefixes, and
 * pages as S3 does (MaxKeys counts versions, delete markers and prefixes). Each node is read a page at
 * a time, so the cost follows the page, not the number of versions a key has. Node failures are
 * tolerated as in listObjects.
 */
export async function listVersions(
  nodes: readonly NodeClient[],
  request: VersionListRequest,
  toleratedFailures: number,
  signal: AbortSignal,
  nodeTimeoutMs: number | (() => number),
  deadline?: ReadDeadline,
): Promise<VersionListResult> {
  // As for objects: a MaxKeys of 0 is an empty page that is not truncated (a truncated page would need a marker to go on from);
  // so is a prefix no key can start with.
  if (request.maxKeys === 0 || longerThanAnyKey(request.prefix)) return { versions: [], commonPrefixes: [], isTruncated: false, next: undefined };
  const rows = mergedVersionRows(nodes, request, toleratedFailures, signal, nodeTimeoutMs, deadline);
  // Resuming inside a key's versions: the key's latest was on an earlier page.
  let lastKey: string | undefined = request.afterVersion === undefined || request.afterIsPrefix ? undefined : request.after;
  const anyVersionUnder = async (prefix: string): Promise<boolean> => {
    const beneath = { bucket: request.bucket, prefix, delimiter: '', after: '', afterVersion: undefined, afterIsPrefix: false, maxKeys: 1 };
    return (await listVersions(nodes, beneath, toleratedFailures, signal, nodeTimeoutMs, deadline)).versions.length > 0;
  };

  const nextEntry = async (): Promise<ListedVersion | { prefix: string } | undefined> => {
    for (;;) {
      const row = await rows.next(compareEntries);
      if (row === undefined) return undefined;
      if (row.rollup !== undefined) {
        // As for objects (list-merge.ts): every node naming the same version first under the prefix settles it.
        const settled = row.everyNode && row.copies === undefined && row.gone !== true;
        rows.skipPrefix(row.rollup);
        if (settled || (await anyVersionUnder(row.rollup))) return { prefix: row.rollup };
        continue;
      }
      // A tombstone written without versioning is no version S3 would list: the key is simply gone.
      if (row.record.deleted && row.record.versioning === undefined) continue;
      // A version some node knows was deleted by id, still held by a node that missed the delete.
      if (row.gone === true) continue;
      if (request.delimiter !== '') {
        const at = row.key.indexOf(request.delimiter, request.prefix.length);
        if (at >= 0) {
          const prefix = row.key.slice(0, at + request.delimiter.length);
          rows.skipPrefix(prefix);
          return { prefix };
        }
      }
      const isLatest = lastKey !== row.key;
      lastKey = row.key;
      return { record: row.record, isLatest };
    }
  };

  return collectVersionPage(request.maxKeys, nextEntry);
}
