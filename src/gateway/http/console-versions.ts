import type { ObjectRecord } from '../../rpc/index.js';
import { listVersions, type LookupDeps } from '../data-path/index.js';
import { s3VersionId } from '../s3/index.js';

/** Most versions of one key the console lists; older ones are left out and the answer says so. */
const MAX_VERSIONS = 1_000;

/** One version or delete marker of a key as the console lists it. */
export interface ConsoleVersion {
  /** The id S3 clients use (`null` for a version written without versioning). */
  versionId: string;
  isLatest: boolean;
  deleteMarker: boolean;
  sizeBytes: number;
  etag: string;
  lastModifiedMs: number;
  multipart: boolean;
}

/**
 * Every version and delete marker of one key, newest first, merged from the nodes' version listings
 * as ListObjectVersions reads them (prefix = the key, keeping rows of exactly that key).
 */
export async function keyVersions(services: LookupDeps, bucket: string, key: string, signal: AbortSignal): Promise<{ versions: ConsoleVersion[]; truncated: boolean }> {
  const versions: ConsoleVersion[] = [];
  let afterVersion: string | undefined;
  for (;;) {
    const page = await listVersions(
      services.cluster.allNodes(),
      { bucket, prefix: key, delimiter: '', after: afterVersion === undefined ? '' : key, afterVersion, afterIsPrefix: false, maxKeys: 1_000 },
      services.erasure.parityShards,
      signal,
      services.metadataTimeoutMs,
    );
    for (const { record, isLatest } of page.versions) {
      // Keys that only start with this one (key2, key/x) sort after it: its versions are done.
      if (record.key !== key) return { versions, truncated: false };
      if (versions.length === MAX_VERSIONS) return { versions, truncated: true };
      versions.push(consoleVersion(record, isLatest));
    }
    const next = page.next;
    if (!page.isTruncated || next === undefined || next.key !== key || next.version === undefined) return { versions, truncated: false };
    afterVersion = s3VersionId(next.version);
  }
}

/** One page of every version and delete marker under a prefix, rolled up at `/` as the browse page is. */
export async function prefixVersions(
  services: LookupDeps,
  bucket: string,
  prefix: string,
  signal: AbortSignal,
): Promise<{ prefixes: string[]; versions: (ConsoleVersion & { key: string })[]; truncated: boolean }> {
  const page = await listVersions(
    services.cluster.allNodes(),
    { bucket, prefix, delimiter: '/', after: '', afterVersion: undefined, afterIsPrefix: false, maxKeys: MAX_VERSIONS },
    services.erasure.parityShards,
    signal,
    services.metadataTimeoutMs,
  );
  return {
    prefixes: page.commonPrefixes,
    versions: page.versions.map(({ record, isLatest }) => ({ key: record.key, ...consoleVersion(record, isLatest) })),
    truncated: page.isTruncated,
  };
}

function consoleVersion(record: ObjectRecord, isLatest: boolean): ConsoleVersion {
  return {
    versionId: s3VersionId(record),
    isLatest,
    deleteMarker: record.deleted,
    sizeBytes: record.sizeBytes,
    etag: record.etag,
    lastModifiedMs: record.lastModifiedMs,
    multipart: record.parts !== undefined,
  };
}
