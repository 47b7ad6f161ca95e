import { compareVersionIds } from '../common/index.js';
import type { ObjectRecord } from './object-record.js';

/** The fields that order copies of one key's record (bucket records carry no tag revision). */
export type RecordOrder = Pick<ObjectRecord, 'versionId' | 'tagsRevision' | 'replicationStatus'>;

/** Whether version id `candidate` is newer than `current`, in the hybrid clock's order. */
export function isNewerVersion(candidate: string, current: string): boolean {
  return compareVersionIds(candidate, current) > 0;
}

/**
 * Whether `candidate` is the newer copy of a key's record: the newer version wins; between copies of
 * one version, the newer in-place tag change (a node that missed it still holds the old tags). No tag
 * revision is older than any, so for records that carry none (bucket records) the version decides.
 * Between copies that differ only in replication status, the settled one (statusRank).
 */
export function isNewerRecord(candidate: RecordOrder, current: RecordOrder): boolean {
  if (candidate.versionId !== current.versionId) return isNewerVersion(candidate.versionId, current.versionId);
  // A tag revision is an id of the same clock.
  const tags = compareVersionIds(candidate.tagsRevision ?? '', current.tagsRevision ?? '');
  if (tags !== 0) return tags > 0;
  // A delivery's outcome is written in place without a revision: the settled status is the later one.
  return statusRank(candidate.replicationStatus) > statusRank(current.replicationStatus);
}

/** Where a replication status stands among a version's copies: PENDING, then FAILED, then COMPLETED (REPLICA never changes). */
function statusRank(status: RecordOrder['replicationStatus']): number {
  if (status === 'PENDING') return 1;
  if (status === 'FAILED') return 2;
  if (status === 'COMPLETED') return 3;
  return 0;
}

/** The newest of `records` by isNewerRecord (the first of equal ones), skipping absent ones; undefined when none. */
export function newestRecord<R extends RecordOrder>(records: Iterable<R | null | undefined>): R | undefined {
  let newest: R | undefined;
  for (const record of records) {
    if (record !== null && record !== undefined && (newest === undefined || isNewerRecord(record, newest))) newest = record;
  }
  return newest;
}

/**
 * The newest record of each name (by isNewerRecord, the first of equal ones) across the lists nodes
 * answered. Given a majority's lists it holds every name's last acknowledged write: any two majorities share a node.
 */
export function newestByName<R extends RecordOrder & { name: string }>(lists: Iterable<Iterable<R>>): Map<string, R> {
  const newest = new Map<string, R>();
  for (const records of lists) {
    for (const record of records) {
      const seen = newest.get(record.name);
      if (seen === undefined || isNewerRecord(record, seen)) newest.set(record.name, record);
    }
  }
  return newest;
}
