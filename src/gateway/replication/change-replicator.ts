import type { Logger } from '../../common/index.js';
import type { S3TargetDefinition } from '../../events/index.js';
import type { Ring } from '../../placement/index.js';
import type { ChangeNote, ErasureParams, LocalLink } from '../../rpc/index.js';
import type { MasterKeyring } from '../encryption/index.js';
import { RemoteError } from './remote-error.js';
import { RemoteS3, type RemoteS3Options } from './remote-s3.js';
import { replicateTags, replicateVersion } from './replicate.js';
import { ReplicationSource, ReplicationSourceError } from './source.js';

/** One logged change as the delivering node hands it over: its key and its note. */
export interface ChangeToReplicate {
  bucket: string;
  key: string;
  note: Pick<ChangeNote, 'eventName' | 'orderId' | 'versionId'>;
}

/**
 * What sending a change came to: the destination holds it, it can never be sent (FAILED), or there was
 * nothing to send (SKIPPED: the version is gone from this cluster, or a tag change names no version a
 * destination can address).
 */
export type ReplicationResult = 'COMPLETED' | 'FAILED' | 'SKIPPED';

/** The replicator of one target, as a storage node's delivery uses it. */
export interface TargetReplicator {
  /** Sends `change`; throws when a later try may succeed (the destination or this cluster's nodes did not answer). */
  replicate(change: ChangeToReplicate, signal: AbortSignal): Promise<ReplicationResult>;
  close(): Promise<void>;
}

/** What reading this cluster's versions needs in a storage node's process. */
export interface ReplicatorsOptions {
  clusterSecret: string;
  /** The gateways' erasure layout (the node's `erasure` setting). */
  erasure: Pick<ErasureParams, 'dataShards' | 'parityShards'>;
  /** The gateways' SSE-S3 master keys; without them an encrypted version fails to replicate. */
  masterKeys?: MasterKeyring | undefined;
  logger: Logger;
  localLinks?: ReadonlyMap<string, LocalLink> | undefined;
  /** Limits of each target's client. */
  remote?: RemoteS3Options;
}

/**
 * The replicators of a storage node's process (docs/replication.md): one ReplicationSource, made with
 * the first ring the node follows and kept on its newest one, shared by one RemoteS3 per target. A
 * change is read from this cluster by the version id its note names and written to the target: a new
 * version or delete marker with replicateVersion, a tag change with replicateTags.
 */
export class Replicators {
  private readonly options: ReplicatorsOptions;
  private source: ReplicationSource | undefined;
  private sourceEpoch = -1;
  private closed = false;

  constructor(options: ReplicatorsOptions) {
    this.options = options;
  }

  /** The replicator of target `name` (a storage node's ReplicatorFactory). */
  forTarget(name: string, definition: S3TargetDefinition, ring: () => Ring | undefined): TargetReplicator {
    const remote = new RemoteS3(definition, this.options.remote);
    const logger = this.options.logger.child({ component: 'replication', target: name });
    return {
      replicate: (change, signal) => this.replicate(change, remote, ring(), logger, signal),
      close: async () => remote.close(),
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.source?.close();
    this.source = undefined;
  }

  private async replicate(change: ChangeToReplicate, remote: RemoteS3, ring: Ring | undefined, logger: Logger, signal: AbortSignal): Promise<ReplicationResult> {
    if (ring === undefined) throw new Error('this node follows no ring yet: it cannot read the version to replicate');
    const source = await this.sourceOn(ring);
    const { bucket, key, note } = change;
    const tagging = note.eventName.startsWith('s3:ObjectTagging:');
    // A tag change's orderId is its revision; the version it changed is the one the client named, and
    // under versioning (which replication requires) that is the internal id. A null version has no id a
    // destination could be asked for.
    const versionId = tagging ? note.versionId : note.orderId;
    if (versionId === undefined || versionId === 'null') {
      logger.info({ bucket, key, eventName: note.eventName }, 'a tag change of a null version is not replicated');
      return 'SKIPPED';
    }
    try {
      const version = await source.version(bucket, key, versionId, signal);
      if (version === undefined) return 'SKIPPED';
      if (tagging) {
        if (version.deleteMarker) return 'SKIPPED';
        await replicateTags(version, remote, { signal });
      } else {
        await replicateVersion(version, remote, { signal });
      }
      return 'COMPLETED';
    } catch (err) {
      if (signal.aborted) throw err;
      if ((err instanceof RemoteError || err instanceof ReplicationSourceError) && !err.retryable) {
        logger.warn({ err, bucket, key, versionId }, 'a version cannot be replicated: it is marked FAILED');
        return 'FAILED';
      }
      throw err;
    }
  }

  /** The source, made with the first ring and moved to every newer one. */
  private async sourceOn(ring: Ring): Promise<ReplicationSource> {
    if (this.closed) throw new Error('replicators are closed');
    if (this.source === undefined) {
      const { clusterSecret, erasure, masterKeys, logger, localLinks } = this.options;
      this.source = new ReplicationSource({ ring, clusterSecret, erasure, masterKeys, logger, localLinks });
      this.sourceEpoch = ring.epoch;
    } else if (ring.epoch > this.sourceEpoch) {
      if (await this.source.setRing(ring)) this.sourceEpoch = ring.epoch;
    }
    return this.source;
  }
}
