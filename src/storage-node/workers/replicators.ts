import type { S3TargetDefinition } from '../../events/index.js';
import type { Ring } from '../../placement/index.js';
import type { ChangeNote } from '../../rpc/index.js';

/**
 * What became of one change sent to a replication target: the destination holds it (`COMPLETED`), it
 * can never be sent (`FAILED`: the destination refused it for good, or the object is encrypted under a
 * customer's key), or there was nothing to send (`SKIPPED`: the version is gone from this cluster).
 */
export type ReplicationOutcome = 'COMPLETED' | 'FAILED' | 'SKIPPED';

/** One logged change, as a replicator is given it. */
export interface ReplicatedChange {
  bucket: string;
  key: string;
  note: ChangeNote;
}

/**
 * Sends changes to one replication target (docs/replication.md). `replicate` resolves with the outcome,
 * and throws when the change should be tried again later: the destination did not answer or answered
 * that it is busy, or this cluster's nodes could not be read.
 */
export interface Replicator {
  replicate(change: ReplicatedChange, signal: AbortSignal): Promise<ReplicationOutcome>;
  close(): Promise<void>;
}

/**
 * Makes the replicator of target `name`; `ring` gives the ring the node follows (undefined before it
 * has one), where the replicator finds the nodes to read from. The storage node cannot read objects
 * itself (reading one means its stripes from the other nodes, decoded and decrypted: the gateway's
 * data path), so the process that runs the node wires this from the gateway's replication module.
 */
export type ReplicatorFactory = (name: string, definition: S3TargetDefinition, ring: () => Ring | undefined) => Replicator;
