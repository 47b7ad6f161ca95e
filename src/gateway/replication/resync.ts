import { setMaxListeners } from 'node:events';
import { matchingReplicationRules, type ReplicationConfiguration } from '../../rpc/index.js';
import { isIndexed, listVersions, listVersionsFromIndex, ReadDeadline, type ListPathDeps, type VersionListRequest } from '../data-path/index.js';
import { s3VersionId } from '../s3/index.js';
import { RemoteError } from './remote-error.js';
import type { RemoteS3 } from './remote-s3.js';
import { replicateVersion } from './replicate.js';
import { ReplicationSourceError, type ReplicationSource } from './source.js';
import type { SourceVersion } from './source-version.js';

/** One version or delete marker of a bucket, as its version listing shows it. */
export interface ListedBucketVersion {
  key: string;
  /** Internal version id (also of a null version). */
  versionId: string;
  deleted: boolean;
  sizeBytes: number;
}

/** Versions asked for per listing page (S3's own largest page). */
const LIST_PAGE = 1000;

/**
 * Every version and delete marker of `bucket`, key ascending and each key's newest first, read through
 * the gateway's ListObjectVersions path: the bucket index of an indexed bucket, every node's versions
 * for an older one.
 */
export async function* listBucketVersions(deps: ListPathDeps, bucket: string, signal: AbortSignal): AsyncGenerator<ListedBucketVersion> {
  const record = await deps.buckets.require(bucket, signal);
  let after = '';
  let afterVersion: string | undefined;
  for (;;) {
    const request: VersionListRequest = { bucket, prefix: '', delimiter: '', after, afterVersion, afterIsPrefix: false, maxKeys: LIST_PAGE };
    const scope = { signal, services: deps, startedMs: performance.now() };
    const page = isIndexed(record)
      ? await listVersionsFromIndex(scope, record, request, ReadDeadline.of(scope))
      : await listVersions(deps.cluster.allNodes(), request, deps.erasure.parityShards, signal, () => deps.metadataTimeoutMs, ReadDeadline.of(scope));
    for (const { record: version } of page.versions) {
      yield { key: version.key, versionId: version.versionId, deleted: version.deleted, sizeBytes: version.deleted ? 0 : version.sizeBytes };
    }
    if (!page.isTruncated || page.next === undefined) return;
    // As a client pages: the key marker and the S3 version id (`null` for a null version).
    after = page.next.key;
    afterVersion = page.next.version === undefined ? undefined : s3VersionId(page.next.version);
  }
}

/**
 * Which versions a resync to one target sends, by the bucket's replication configuration: those an
 * enabled rule with one of `arns` (the target's, as the rules spell it) selects, delete markers only
 * where the deciding rule replicates them.
 */
export class ResyncSelection {
  private readonly configuration: ReplicationConfiguration;
  private readonly arns: ReadonlySet<string>;

  constructor(configuration: ReplicationConfiguration, arns: ReadonlySet<string>) {
    this.configuration = configuration;
    this.arns = arns;
  }

  /**
   * Whether a listed version may be sent, before its tags are known: a delete marker as the rules
   * decide it; a version when an enabled rule's prefix selects its key (its tags are checked once read).
   */
  mayInclude(listed: Pick<ListedBucketVersion, 'key' | 'deleted'>): boolean {
    if (listed.deleted) return this.marks(listed.key);
    const { key } = listed;
    return this.configuration.rules.some((rule) => rule.enabled && this.arns.has(rule.destination.arn) && (rule.filter.prefix === undefined || key.startsWith(rule.filter.prefix)));
  }

  /** Whether a version read from the source is sent: never a replica; otherwise as the rules decide with its tags. */
  includes(version: Pick<SourceVersion, 'key' | 'deleteMarker' | 'tags' | 'replicationStatus'>): boolean {
    if (version.replicationStatus === 'REPLICA') return false;
    if (version.deleteMarker) return this.marks(version.key);
    return matchingReplicationRules(this.configuration, { key: version.key, tags: version.tags }).some((match) => this.arns.has(match.arn));
  }

  private marks(key: string): boolean {
    return matchingReplicationRules(this.configuration, { key }).some((match) => this.arns.has(match.arn) && match.deleteMarkers);
  }
}

/** A resync's figures so far; totals come from the counting pass and shrink by what reading shows is not to be sent. */
export interface ResyncProgress {
  versionsTotal: number;
  bytesTotal: number;
  /** Versions settled: sent, already at the destination, or failed. */
  versionsDone: number;
  bytesDone: number;
  sentVersions: number;
  sentBytes: number;
  alreadyThere: number;
  /** Failed versions; `failedForGood` of them were marked FAILED, the others may succeed on another run. */
  failed: number;
  failedForGood: number;
  /** When sending began (after the counting pass), in ms of the clock `nowMs` gives. */
  startedMs: number;
}

/** What a resync needs: the source cluster, the target's client, the selection, and how many keys to send at once. */
export interface ResyncOptions {
  source: ReplicationSource;
  remote: RemoteS3;
  bucket: string;
  selection: ResyncSelection;
  /** Keys worked on at once (a key's versions go one after the other, oldest first). */
  concurrency: number;
  signal: AbortSignal;
  /** Told once the counting pass is done, and after every version. */
  onProgress?: (progress: Readonly<ResyncProgress>) => void;
  nowMs?: () => number;
}

/**
 * Sends a bucket's existing versions to one target, what the destination lacks (docs/replication.md):
 * a counting pass over the version listing gives the totals; then key by key (up to `concurrency`
 * keys at once), oldest version first, each version not a replica that the rules select is sent
 * unless the destination already holds it (a HEAD of its version id answers its ETag; a delete marker
 * is sent unless its status is COMPLETED). Once a version is at the destination its status at the
 * source becomes COMPLETED; one that can never be sent becomes FAILED; one that failed for now is left
 * as it was and counted.
 */
export async function resyncBucket(options: ResyncOptions): Promise<ResyncProgress> {
  const { source, bucket, selection, signal } = options;
  const nowMs = options.nowMs ?? Date.now;
  const deps = source.listPath();
  const progress: ResyncProgress = { versionsTotal: 0, bytesTotal: 0, versionsDone: 0, bytesDone: 0, sentVersions: 0, sentBytes: 0, alreadyThere: 0, failed: 0, failedForGood: 0, startedMs: 0 };
  for await (const listed of listBucketVersions(deps, bucket, signal)) {
    if (!selection.mayInclude(listed)) continue;
    progress.versionsTotal += 1;
    progress.bytesTotal += listed.sizeBytes;
  }
  progress.startedMs = nowMs();
  options.onProgress?.(progress);

  // Every job catches what it throws (an abort), so none is left unhandled; the first is thrown at the end.
  const running = new Set<Promise<void>>();
  let thrown: { err: unknown } | undefined;
  const dispatch = async (versions: ListedBucketVersion[]): Promise<void> => {
    while (running.size >= options.concurrency) await Promise.race(running);
    if (thrown !== undefined) throw thrown.err;
    // Oldest first: the listing gives each key's newest first.
    const job: Promise<void> = resyncKey(options, progress, versions.reverse())
      .catch((err: unknown) => void (thrown ??= { err }))
      .finally(() => running.delete(job));
    running.add(job);
  };
  try {
    let key: string | undefined;
    let versions: ListedBucketVersion[] = [];
    for await (const listed of listBucketVersions(deps, bucket, signal)) {
      if (!selection.mayInclude(listed)) continue;
      if (listed.key !== key && versions.length > 0) {
        await dispatch(versions);
        versions = [];
      }
      key = listed.key;
      versions.push(listed);
    }
    if (versions.length > 0) await dispatch(versions);
  } finally {
    await Promise.all(running);
  }
  if (thrown !== undefined) throw thrown.err;
  return progress;
}

/** A key's versions, one after the other; each version's outcome is counted, none is thrown. */
async function resyncKey(options: ResyncOptions, progress: ResyncProgress, versions: readonly ListedBucketVersion[]): Promise<void> {
  for (const listed of versions) {
    const outcome = await withVersionSignal(options.signal, (signal) => resyncVersion({ ...options, signal }, listed).catch((err: unknown) => failureOf(err, signal)));
    switch (outcome.kind) {
      case 'excluded':
        progress.versionsTotal -= 1;
        progress.bytesTotal -= listed.sizeBytes;
        break;
      case 'sent':
        progress.sentVersions += 1;
        progress.sentBytes += listed.sizeBytes;
        break;
      case 'already-there':
        progress.alreadyThere += 1;
        break;
      case 'failed':
        progress.failed += 1;
        if (outcome.forGood) progress.failedForGood += 1;
        break;
    }
    if (outcome.kind !== 'excluded') {
      progress.versionsDone += 1;
      progress.bytesDone += listed.sizeBytes;
    }
    options.onProgress?.(progress);
  }
}

/**
 * Runs `work` under a signal of its own that follows the run's: what the calls of one version leave
 * listening on it goes with it, and a long run's signal does not gather listeners.
 */
async function withVersionSignal<T>(runSignal: AbortSignal, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  // One version's read asks every node of its set, each call listening.
  setMaxListeners(0, controller.signal);
  const abort = (): void => controller.abort(runSignal.reason);
  if (runSignal.aborted) abort();
  else runSignal.addEventListener('abort', abort, { once: true });
  try {
    return await work(controller.signal);
  } finally {
    runSignal.removeEventListener('abort', abort);
  }
}

type VersionOutcome = { kind: 'excluded' | 'sent' | 'already-there' } | { kind: 'failed'; forGood: boolean };

/** One version: read it, send it unless the destination holds it, and record where it stands at the source. */
async function resyncVersion(options: ResyncOptions, listed: ListedBucketVersion): Promise<VersionOutcome> {
  const { source, remote, bucket, selection, signal } = options;
  const version = await source.version(bucket, listed.key, listed.versionId, signal);
  // Gone since the listing (deleted by id, a null version replaced), a replica, or not selected with its tags.
  if (version === undefined || !selection.includes(version)) return { kind: 'excluded' };
  let kind: 'sent' | 'already-there';
  try {
    if (await destinationHolds(remote, version, signal)) {
      kind = 'already-there';
    } else {
      await replicateVersion(version, remote, { signal });
      kind = 'sent';
    }
  } catch (err) {
    const outcome = failureOf(err, signal);
    if (outcome.forGood) await source.setStatus(bucket, version.key, version.versionId, 'FAILED', signal).catch(() => undefined);
    return outcome;
  }
  if (version.replicationStatus !== 'COMPLETED') await source.setStatus(bucket, version.key, version.versionId, 'COMPLETED', signal);
  return { kind };
}

/**
 * Whether the destination holds the version: a delete marker once its status says so (a repeated
 * marker of one version id changes nothing at a Tessera destination); an object when the destination
 * answers its version id with its ETag. A store that refuses the version id (another store's ids) holds
 * no such version.
 */
async function destinationHolds(remote: RemoteS3, version: SourceVersion, signal: AbortSignal): Promise<boolean> {
  if (version.deleteMarker) return version.replicationStatus === 'COMPLETED';
  try {
    const head = await remote.headObject(version.key, { signal, versionId: version.versionId });
    return head !== undefined && head.etag === version.etag;
  } catch (err) {
    if (err instanceof RemoteError && err.status === 400) return false;
    throw err;
  }
}

/** How a failure counts: for good when the destination or the source says no retry can succeed. */
function failureOf(err: unknown, signal: AbortSignal): { kind: 'failed'; forGood: boolean } {
  if (signal.aborted) throw err;
  const forGood = (err instanceof RemoteError || err instanceof ReplicationSourceError) && !err.retryable;
  return { kind: 'failed', forGood };
}
