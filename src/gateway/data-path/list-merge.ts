import { fanOut, newestRecord, type ListEntry, type NodeClient, type ObjectRecord } from '../../rpc/index.js';
import { compareUtf8 } from '../s3/index.js';
import type { ReadDeadline } from './read-retry.js';
import { longerThanAnyKey, MergedRows, rollupDelimiter, RowCursor, type RowCopy, type RowPageFetch } from './row-cursor.js';

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
export interface ListResult<O = ObjectRecord> {
  objects: O[];
  commonPrefixes: string[];
  isTruncated: boolean;
  next: { after: string; afterIsPrefix: boolean } | undefined;
}

/**
 * The newest of a key's copies that no node knows was deleted by id. A node that was away when a
 * versioned key's latest version (or delete marker) was deleted by id still lists it until an audit
 * reaches it; asked only when the nodes' copies disagree, so a listing of settled keys costs nothing more.
 */
async function newestNotDeletedById(nodes: readonly NodeClient[], copies: readonly RowCopy[], newest: ObjectRecord, signal: AbortSignal): Promise<ObjectRecord | undefined> {
  const holders = nodes.filter((node) => copies.some((copy) => copy.nodeId === node.nodeId));
  const excluded = new Set<string>();
  let candidate: ObjectRecord | undefined = newest;
  for (let round = 0; candidate !== undefined && candidate.versioning !== undefined && round < 3; round += 1) {
    const { bucket, key, versionId } = candidate;
    const lookups = await fanOut(holders, (node) => node.versionLookup(bucket, key, versionId, { signal }));
    if (!lookups.some((outcome) => outcome.ok && outcome.value?.gone === true)) return candidate;
    excluded.add(versionId);
    candidate = newestRecord(copies.map((copy) => copy.record).filter((record) => !excluded.has(record.versionId)));
  }
  return candidate;
}

/** Listing order of the current versions: one row per key. */
const byKey = (a: ListEntry, b: ListEntry): number => compareUtf8(a.key, b.key);

/**
 * Lists a bucket by merging every node's ordered index: keeps the newest version of each key, hides
 * delete markers, rolls keys up into common prefixes, and pages exactly as S3 does (MaxKeys counts
 * objects plus prefixes; IsTruncated is true only when another entry really follows; a MaxKeys of 0
 * is an empty page that is not truncated, whatever the bucket holds, as is a prefix longer than any key).
 * A node that cannot answer, or does not answer a page within `nodeTimeoutMs` (a cut link hangs
 * rather than refuses), is dropped for the rest of the listing while no more than
 * `toleratedFailures` are missing, since every key lives on several nodes.
 */
export async function listObjects(
  nodes: readonly NodeClient[],
  request: ListRequest,
  toleratedFailures: number,
  signal: AbortSignal,
  nodeTimeoutMs: number | (() => number),
  deadline?: ReadDeadline,
): Promise<ListResult> {
  if (request.maxKeys === 0 || longerThanAnyKey(request.prefix)) return { objects: [], commonPrefixes: [], isTruncated: false, next: undefined };
  const fetchPage = (node: NodeClient): RowPageFetch => (from, pageSignal) =>
    node.list(
      { bucket: request.bucket, prefix: request.prefix, after: from.after, afterIsPrefix: from.afterIsPrefix, limit: from.limit, delimiter: rollupDelimiter(request.delimiter) },
      { signal: pageSignal },
    );
  const rows = new MergedRows(
    nodes.map((node) => ({ nodeId: node.nodeId, cursor: new RowCursor(fetchPage(node), request, { byVersion: false, signal, timeoutMs: nodeTimeoutMs, firstPageEntries: request.maxKeys + 1 }) })),
    toleratedFailures,
    deadline === undefined ? undefined : { deadline, signal },
  );
  const anyVisibleUnder = async (prefix: string): Promise<boolean> => {
    const beneath = { bucket: request.bucket, prefix, delimiter: '', after: '', afterIsPrefix: false, maxKeys: 1 };
    return (await listObjects(nodes, beneath, toleratedFailures, signal, nodeTimeoutMs, deadline)).objects.length > 0;
  };

  // Returns the next visible entry, or undefined at the end of the listing.
  const nextEntry = async (): Promise<ListedEntry<ObjectRecord> | undefined> => {
    for (;;) {
      // Newest copy of each key; a key whose newest record is a delete marker is not listed.
      const row = await rows.next(byKey);
      if (row === undefined) return undefined;
      if (row.rollup !== undefined) {
        // The nodes rolled the prefix up themselves. Every node naming the same live version of the same
        // first key settles it; otherwise (one missed a delete, or holds a key another lacks) the keys
        // beneath decide, as they would without the roll-up.
        const settled = row.everyNode && row.copies === undefined && !row.record.deleted;
        rows.skipPrefix(row.rollup);
        if (settled || (await anyVisibleUnder(row.rollup))) return { prefix: row.rollup };
        continue;
      }
      const record = row.copies === undefined ? row.record : await newestNotDeletedById(nodes, row.copies, row.record, signal);
      if (record === undefined || record.deleted) continue;
      if (request.delimiter !== '') {
        const at = row.key.indexOf(request.delimiter, request.prefix.length);
        if (at >= 0) {
          const prefix = row.key.slice(0, at + request.delimiter.length);
          rows.skipPrefix(prefix);
          return { prefix };
        }
      }
      return { object: record };
    }
  };

  return collectPage(request.maxKeys, nextEntry);
}

/** What a listing yields next: an object, or a common prefix standing for the keys under it. */
export type ListedEntry<O> = { object: O } | { prefix: string };

/**
 * A page of up to `maxKeys` objects and common prefixes from `nextEntry` (undefined at the end), as
 * S3 pages them: MaxKeys counts both, and the page is truncated only when something visible follows.
 */
export async function collectPage<O extends { key: string }>(maxKeys: number, nextEntry: () => Promise<ListedEntry<O> | undefined>): Promise<ListResult<O>> {
  const objects: O[] = [];
  const commonPrefixes: string[] = [];
  let next: ListResult['next'];
  while (objects.length + commonPrefixes.length < maxKeys) {
    const entry = await nextEntry();
    if (entry === undefined) return { objects, commonPrefixes, isTruncated: false, next: undefined };
    if ('prefix' in entry) {
      commonPrefixes.push(entry.prefix);
      next = { after: entry.prefix, afterIsPrefix: true };
    } else {
      objects.push(entry.object);
      next = { after: entry.object.key, afterIsPrefix: false };
    }
  }
  const following = await nextEntry();
  return { objects, commonPrefixes, isTruncated: following !== undefined, next: following === undefined ? undefined : next };
}
