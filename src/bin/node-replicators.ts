import type { Logger } from '../common/index.js';
import { readMasterKeyFile, Replicators } from '../gateway/index.js';
import type { ReplicatorFactory } from '../storage-node/index.js';

/** What a node process needs to replicate: the gateways' erasure layout and, for encrypted objects, their master keys. */
export interface ReplicationSettings {
  erasure: { dataShards: number; parityShards: number };
  /** The gateways' SSE-S3 master key file. */
  masterKeyFile?: string | undefined;
}

/**
 * The replicators of the storage nodes of one process (docs/replication.md): the nodes deliver their
 * changes, and read the versions to send through the gateway's replication module, wired here since a
 * storage node does not import the gateway. One source of reads serves every node of the process.
 */
export async function nodeReplicators(settings: ReplicationSettings, clusterSecret: string, logger: Logger): Promise<{ factory: ReplicatorFactory; close(): Promise<void> }> {
  const masterKeys = settings.masterKeyFile === undefined ? undefined : await readMasterKeyFile(settings.masterKeyFile);
  const replicators = new Replicators({ clusterSecret, erasure: settings.erasure, masterKeys, logger });
  return {
    factory: (name, definition, ring) => replicators.forTarget(name, definition, ring),
    close: () => replicators.close(),
  };
}
