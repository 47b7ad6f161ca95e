import type { NodeHealth } from '../../rpc/index.js';
import type { PreparedResolver } from '../prepared-resolver.js';
import type { RingStore } from '../ring-store.js';
import type { ShardStore } from '../shard-store.js';

/** The node's health report: GET /health, and the source of the health figures in metrics. */
export async function nodeHealth(options: { nodeId: string; store: ShardStore; rings: RingStore; resolver?: PreparedResolver | undefined }): Promise<NodeHealth> {
  const { store } = options;
  {
    const metadataStore = store.metadataStatus;
    const stats = store.stats;
    const recovery = stats.lastRecovery;
    return {
      nodeId: options.nodeId,
      // After one failed metadata write the node refuses writes until it restarts (metadata-store.ts).
      status: metadataStore === 'open' && store.metadataWriteFailures === 0 ? 'ok' : 'degraded',
      metadataStore,
      freeBytes: await store.freeBytes(),
      checksumFailures: stats.checksumFailures,
      ringEpoch: options.rings.current?.epoch ?? 0,
      // Read with ringEpoch, in one turn: the pair names one ring and the one it replaced.
      previousRingEpoch: options.rings.previous?.epoch ?? 0,
      quarantinedShards: stats.quarantinedShards,
      noSpaceRefusals: stats.noSpaceRefusals,
      ioErrors: stats.ioErrors,
      capacityBytes: stats.capacityBytes,
      usedBytes: stats.usedBytes,
      recovery:
        recovery === null
          ? null
          : {
              tmpFilesRemoved: recovery.tmpFilesRemoved,
              stalePreparedDropped: recovery.stalePreparedDropped,
              orphanFilesRemoved: recovery.orphanFilesRemoved,
              missingFiles: recovery.missingFiles,
              emptySegmentsRemoved: recovery.emptySegmentsRemoved,
              completedMs: recovery.completedMs,
            },
      ...(options.resolver === undefined ? {} : { preparedResolver: options.resolver.status() }),
    };
  }
}
