import type { ObjectRecord } from '../../rpc/index.js';

/**
 * Whether Object Lock protects a version at `nowMs` (a retention date not yet reached, or a legal hold):
 * background work that removes or hides versions (lifecycle) must leave such a version alone. Object Lock
 * is not stored yet, so no version is locked; this is the one place that will answer from its fields.
 */
export function versionIsLocked(_record: ObjectRecord, _nowMs: number): boolean {
  return false;
}
