import type { ObjectRecord } from './object-record.js';

/** Why a version may not be removed now: its legal hold, or retention in one of S3's two modes. */
export type LockHold = 'legal-hold' | 'COMPLIANCE' | 'GOVERNANCE';

/**
 * What keeps `record` from being removed at `nowMs` (null: nothing). A legal hold holds until it is
 * lifted; retention until its date passes. GOVERNANCE retention yields to `bypassGovernance` (a
 * requester allowed s3:BypassGovernanceRetention who asked for it); COMPLIANCE and legal holds never
 * yield. The gateway and the nodes both ask this, so no path removes a locked version.
 */
export function lockHold(record: Pick<ObjectRecord, 'retention' | 'legalHold'>, nowMs: number, bypassGovernance = false): LockHold | null {
  if (record.legalHold === true) return 'legal-hold';
  const retention = record.retention;
  if (retention === undefined || retention.retainUntilMs <= nowMs) return null;
  if (retention.mode === 'GOVERNANCE' && bypassGovernance) return null;
  return retention.mode;
}
