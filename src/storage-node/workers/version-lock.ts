import { lockHold, type ObjectRecord } from '../../rpc/index.js';

/**
 * Whether Object Lock protects a version at `nowMs` (a retention date not yet reached, or a legal hold):
 * background work that removes or hides versions (lifecycle) leaves such a version alone, GOVERNANCE
 * retention included, since no requester asked to bypass it.
 */
export function versionIsLocked(record: ObjectRecord, nowMs: number): boolean {
  return lockHold(record, nowMs) !== null;
}
