import { HybridClock, TesseraError } from '../../common/index.js';
import { readUserRecords, type NodeClient, type UserRecord } from '../../rpc/index.js';

/** Why a KMS key or target action was refused; `code` is stable (the admin API answers it, the CLI prints the message). */
export type RecordAdminErrorCode = 'InvalidName' | 'InvalidTarget' | 'NoSuchKmsKey' | 'KmsKeyAlreadyExists' | 'NoSuchTarget' | 'TargetAlreadyExists' | 'NoMasterKey';

/** A KMS key or target action refused for the caller's input (the cluster's own faults keep their own errors). */
export class RecordAdminError extends TesseraError<RecordAdminErrorCode> {}

/**
 * Every cluster-wide record (users, policies, targets, KMS keys) as a majority of the nodes hold it, and
 * a clock that orders a new version after every one of them, whoever wrote it and with whatever clock.
 */
export async function readRecordSnapshot(nodes: readonly NodeClient[], timeoutMs: number): Promise<{ records: ReadonlyMap<string, UserRecord>; clock: HybridClock }> {
  const records = await readUserRecords(nodes, timeoutMs);
  const clock = new HybridClock();
  for (const record of records.values()) clock.observe(record.versionId);
  return { records, clock };
}

/** Sorts records by name. */
export function byName(a: UserRecord, b: UserRecord): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}
