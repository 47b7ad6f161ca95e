import { HybridClock, TesseraError } from '../../common/index.js';
import { readUserRecords, writeUserRecord, type NodeClient, type UserRecord } from '../../rpc/index.js';

/** Why a KMS key or target action was refused; `code` is stable (the admin API answers it, the CLI prints the message). */
export type RecordAdminErrorCode = 'InvalidName' | 'InvalidTarget' | 'NoSuchKmsKey' | 'KmsKeyAlreadyExists' | 'NoSuchTarget' | 'TargetAlreadyExists' | 'NoMasterKey';

/** A KMS key or target action refused for the caller's input (the cluster's own faults keep their own errors). */
export class RecordAdminError extends TesseraError<RecordAdminErrorCode> {}

/** Where the admin actions on cluster-wide records read and write. */
export interface ClusterRecordsOptions {
  nodes: () => readonly NodeClient[];
  timeoutMs: () => number;
  /** Called after each change (a gateway re-reads the records at once). */
  onChange?: (() => Promise<void>) | undefined;
}

/** One read of the records, and a clock that orders a new version after every one of them. */
export interface RecordSnapshot {
  records: ReadonlyMap<string, UserRecord>;
  clock: HybridClock;
}

/**
 * The cluster-wide records (users, policies, targets, KMS keys) as the admin actions see them: every
 * action reads them from a majority of the nodes, then writes the one it changed to a majority. The
 * identity, target and KMS key actions share this, whether the admin API or `tessera admin` runs them.
 */
export class ClusterRecords {
  private readonly options: ClusterRecordsOptions;

  constructor(options: ClusterRecordsOptions) {
    this.options = options;
  }

  /** Every record as a majority holds it; the clock orders after each, whoever wrote it and with whatever clock. */
  async read(): Promise<RecordSnapshot> {
    const records = await readUserRecords(this.options.nodes(), this.options.timeoutMs());
    const clock = new HybridClock();
    for (const record of records.values()) clock.observe(record.versionId);
    return { records, clock };
  }

  /** Writes one record to a majority, then tells the owner. */
  async write(record: UserRecord): Promise<void> {
    await writeUserRecord(this.options.nodes(), record, this.options.timeoutMs());
    await this.options.onChange?.();
  }
}

/** Sorts records by name. */
export function byName(a: UserRecord, b: UserRecord): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}
