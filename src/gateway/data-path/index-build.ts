import { setTimeout as delay } from 'node:timers/promises';
import { decideQuorum, fanOut, indexEntryOf, MAX_INDEX_OPS, UPLOADS_BUCKET, uploadsIndexOf, writeQuorum, type BucketRecord, type IndexOp, type NodeClient } from '../../rpc/index.js';
import { quorumError, s3VersionId } from '../s3/index.js';
import { indexReplicas, indexShardOf, isIndexed, type IndexedBucket } from './bucket-index.js';
import { listVersions, type VersionListRequest } from './list-versions.js';
import type { ListPathDeps } from './path-deps.js';
import { ReadDeadline } from './read-retry.js';
import { withTimeout } from './request-scope.js';

/*
 * The online build of a bucket's index (docs/bucket-index.md#building-an-index), for a bucket created
 * before the index existed, or whose multipart uploads have none. Writes never pause: the bucket is
 * first marked as building, so every write goes to the index as well, then every version is copied
 * from the keys' nodes into the index, and only then do listings read it.
 */

/** Versions read from the nodes per page of the walk. */
const WALK_PAGE = 1000;

/** Where a build is. */
export type IndexBuildPhase = 'marking' | 'waiting' | 'objects' | 'uploads' | 'done';

/** What a build has done so far. */
export interface IndexBuildProgress {
  bucket: string;
  phase: IndexBuildPhase;
  /** Versions and delete markers of the bucket's keys copied into its index. */
  objectVersions: number;
  /** Versions of its keys of the uploads bucket (markers and parts) copied into its uploads index. */
  uploadVersions: number;
  startedMs: number;
  /** The bucket was indexed already: nothing was done. */
  alreadyIndexed: boolean;
}

/** How a build runs. */
export interface IndexBuildOptions {
  signal: AbortSignal;
  /**
   * How long to wait after marking the bucket before the walk: longer than any gateway keeps a bucket
   * record cached (bucketCacheTtlMs), plus the longest a commit sent on the old record can take.
   */
  settleWaitMs: number;
  onProgress?: (progress: Readonly<IndexBuildProgress>) => void;
  /** Versions read from the nodes per page of the walk (default and most: 1,000). */
  pageVersions?: number;
}

/**
 * Builds `bucket`'s index while it is written to, and answers what it did. Safe to run again after a
 * failure or on a bucket already building (it copies the same versions again: each copy is a write
 * the index takes once). Throws an S3Error NoSuchBucket when there is no such bucket, and when the
 * bucket is deleted (or deleted and created again) during the build.
 */
export async function buildIndex(deps: ListPathDeps, bucket: string, options: IndexBuildOptions): Promise<IndexBuildProgress> {
  const { signal } = options;
  const progress: IndexBuildProgress = { bucket, phase: 'marking', objectVersions: 0, uploadVersions: 0, startedMs: Date.now(), alreadyIndexed: false };
  const report = (phase: IndexBuildPhase): void => {
    progress.phase = phase;
    options.onProgress?.(progress);
  };
  const current = await deps.buckets.require(bucket, signal);
  if (isIndexed(current) && current.index.uploads === true) {
    progress.alreadyIndexed = true;
    report('done');
    return progress;
  }
  report('marking');
  // From this record on, every gateway that reads it writes intents and settles for the bucket and its uploads.
  const marked = await deps.buckets.update(bucket, (record) => ({ ...record, index: { ...(record.index ?? { shards: [{ id: 0, from: '' }] }), uploads: true, building: true } }), signal, current.createdMs);
  report('waiting');
  // Every gateway's cached record (and every commit sent under an older one) is gone after this: each
  // write still to commit announces its intent first (pending-version.ts), so the walk below misses
  // none, whether it reads the key before or after the write commits.
  await delay(options.settleWaitMs, undefined, { signal });
  report('objects');
  const pageVersions = Math.max(1, Math.min(WALK_PAGE, options.pageVersions ?? WALK_PAGE));
  await copyVersions(deps, marked as IndexedBucket, bucket, '', pageVersions, signal, (count) => {
    progress.objectVersions += count;
    options.onProgress?.(progress);
  });
  report('uploads');
  await copyVersions(deps, uploadsIndexOf(marked) as IndexedBucket, UPLOADS_BUCKET, `${bucket}/`, pageVersions, signal, (count) => {
    progress.uploadVersions += count;
    options.onProgress?.(progress);
  });
  // Listings read the index from the next record on; a bucket deleted or created again meanwhile is refused (NoSuchBucket).
  await deps.buckets.update(bucket, (record) => ({ ...record, ...(record.index === undefined ? {} : { index: withoutBuilding(record.index) }) }), signal, marked.createdMs);
  report('done');
  return progress;
}

/** The index without its `building` mark. */
function withoutBuilding(index: NonNullable<BucketRecord['index']>): NonNullable<BucketRecord['index']> {
  const { building: _building, ...rest } = index;
  return rest;
}

/**
 * Copies every version under `prefix` of `bucket` (the bucket itself, or the uploads bucket) as its
 * keys' nodes list them into `index`, page by page: each page's entries on a write quorum of each
 * shard's replicas before the next page is read. An entry copied after its version was deleted by id
 * or replaced is hidden by what that write settled (docs/bucket-index.md): the copy never outvotes it.
 */
async function copyVersions(deps: ListPathDeps, index: IndexedBucket, bucket: string, prefix: string, pageVersions: number, signal: AbortSignal, copied: (count: number) => void): Promise<void> {
  const request: VersionListRequest = { bucket, prefix, delimiter: '', after: '', afterVersion: undefined, afterIsPrefix: false, maxKeys: pageVersions };
  for (;;) {
    const scope = { signal, services: deps, startedMs: performance.now() };
    const page = await listVersions(deps.cluster.allNodes(), request, deps.erasure.parityShards, signal, () => deps.metadataTimeoutMs, ReadDeadline.of(scope));
    const byShard = new Map<number, IndexOp[]>();
    for (const { record } of page.versions) {
      const shard = indexShardOf(index, record.key);
      let ops = byShard.get(shard);
      if (ops === undefined) byShard.set(shard, (ops = []));
      ops.push({ op: 'settle', bucket: index.name, incarnation: index.createdMs, key: record.key, entry: indexEntryOf(record) });
    }
    for (const [shard, ops] of byShard) await applyOnQuorum(deps, indexReplicas(deps, index, shard).nodes, ops, signal);
    copied(page.versions.length);
    if (!page.isTruncated || page.next === undefined) return;
    request.after = page.next.key;
    request.afterVersion = page.next.version === undefined ? undefined : s3VersionId(page.next.version);
  }
}

/** Applies `ops` on every replica, in batches; each batch must be taken by a write quorum of them. */
async function applyOnQuorum(deps: ListPathDeps, replicas: readonly NodeClient[], ops: readonly IndexOp[], signal: AbortSignal): Promise<void> {
  const needed = writeQuorum(deps.erasure.dataShards, deps.erasure.parityShards);
  for (let at = 0; at < ops.length; at += MAX_INDEX_OPS) {
    const batch = ops.slice(at, at + MAX_INDEX_OPS);
    const outcomes = await fanOut(replicas, (replica) => replica.applyIndex({ ops: batch }, { signal: withTimeout(signal, deps.metadataTimeoutMs * 4) }));
    const decision = decideQuorum(outcomes, needed);
    if (!decision.met) throw quorumError('index build', decision.failures);
  }
}

