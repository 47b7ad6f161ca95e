import { afterDays, lifecycleFilterMatches, noncurrentRules, removesExpiredMarker, type BucketRecord, type LifecycleRule, type ObjectRecord } from '../../rpc/index.js';

/**
 * What the lifecycle worker decides from a key's records alone, apart from how it gathers them from the
 * key's set (lifecycle-worker.ts): which noncurrent versions are due, whether an expiry removes a version
 * for good, whether a lone delete marker goes.
 */

/**
 * Whether expiring `record` as the current version removes it for good: a tombstone without versioning,
 * or the null marker over the null version while versioning is suspended. A delete marker over a version
 * of a versioning-enabled bucket removes nothing, so Object Lock does not stop it (as in S3).
 */
export function removesForGood(bucket: { versioning: BucketRecord['versioning'] }, record: ObjectRecord): boolean {
  return bucket.versioning !== 'Enabled' && record.versioning !== 'Enabled';
}

/**
 * The noncurrent versions of `versions` (a key's versions, newest first) that the rules remove at `now`:
 * past NoncurrentDays since the next newer version was written, with at least the rule's
 * NewerNoncurrentVersions newer noncurrent versions kept above them.
 */
export function dueNoncurrent(rules: readonly LifecycleRule[], versions: readonly ObjectRecord[], now: number, dayMs: number): ObjectRecord[] {
  const due: ObjectRecord[] = [];
  for (let i = 1; i < versions.length; i += 1) {
    const version = versions[i] as ObjectRecord;
    // When it became noncurrent: when the next newer version was written.
    const since = (versions[i - 1] as ObjectRecord).lastModifiedMs;
    const newerNoncurrent = i - 1;
    if (noncurrentRules(rules, version).some(({ noncurrentDays, keep }) => newerNoncurrent >= keep && afterDays(since, noncurrentDays, dayMs) <= now)) due.push(version);
  }
  return due;
}

/**
 * Whether the rules remove a delete marker that is its key's only version: ExpiredObjectDeleteMarker, or
 * an Expiration Days rule once the marker is older than its days, as S3 cleans up for Days rules ("When
 * you specify the Days tag, Amazon S3 automatically performs ExpiredObjectDeleteMarker cleanup"). A Date
 * rule does not: S3 does that cleanup for Days only.
 */
export function removesLoneMarker(rules: readonly LifecycleRule[], marker: ObjectRecord, now: number, dayMs: number): boolean {
  if (removesExpiredMarker(rules, marker.key)) return true;
  return rules.some(
    (rule) =>
      rule.enabled &&
      rule.expiration?.days !== undefined &&
      lifecycleFilterMatches(rule.filter, { key: marker.key, sizeBytes: 0 }) &&
      afterDays(marker.lastModifiedMs, rule.expiration.days, dayMs) <= now,
  );
}
