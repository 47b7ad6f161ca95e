import { lockHold, type BucketRecord, type ObjectRecord } from '../../rpc/index.js';

/**
 * Whether Object Lock protects a version at `nowMs` (a retention date not yet reached, or a legal hold):
 * background work that removes or hides versions (lifecycle) leaves such a version alone, GOVERNANCE
 * retention included, since no requester asked to bypass it.
 */
export function versionIsLocked(record: ObjectRecord, nowMs: number): boolean {
  return lockHold(record, nowMs) !== null;
}

/**
 * Whether expiring `record` as the current version removes it for good, which Object Lock forbids: a
 * tombstone without versioning, or the null marker over the null version while versioning is suspended.
 * A delete marker over a version of a versioning-enabled bucket removes nothing, so the lock does not stop
 * it (as in S3).
 */
export function expiryRemovesForGood(bucket: { versioning: BucketRecord['versioning'] }, record: ObjectRecord): boolean {
  return bucket.versioning !== 'Enabled' && record.versioning !== 'Enabled';
}
