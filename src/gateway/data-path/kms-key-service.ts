import type { HybridClock } from '../../common/index.js';
import { KMS_KEY_RECORD_PREFIX, writeUserRecord } from '../../rpc/index.js';
import type { ClusterView } from '../cluster/index.js';
import { DEFAULT_KMS_KEY, newKmsKeyMaterial, parseKmsKeyId, type ObjectSealer, type SseRequest } from '../encryption/index.js';
import type { UserDirectory } from './user-directory.js';

/**
 * The gateway's side of the built-in key service: turns an SSE-KMS write's key id (a name, alias or
 * ARN; none for the default key) into a known, enabled key before any body is read, re-reading the
 * cluster's keys once when a name is not known yet, and makes the default key (`aws/s3`) on its first
 * use. The keys themselves are records the nodes keep beside users (`kms:NAME`), sealed under the
 * master key file; this holds none of their secrets.
 */
export class KmsKeyService {
  private readonly options: { users: UserDirectory; cluster: ClusterView; sealer: ObjectSealer; clock: HybridClock; timeoutMs: () => number; region: string };
  private creatingDefault: Promise<void> | undefined;

  constructor(options: { users: UserDirectory; cluster: ClusterView; sealer: ObjectSealer; clock: HybridClock; timeoutMs: () => number; region: string }) {
    this.options = options;
  }

  /** The key name a key id (name, alias or ARN) names; S3's KMS.NotFoundException when it names none of this region's. */
  keyNameOf(keyId: string): string {
    return parseKmsKeyId(keyId, this.options.region);
  }

  /**
   * `request` with its KMS key resolved (other requests come back as they are). Throws S3's
   * KMS.NotFoundException for a key the cluster does not have and KMS.DisabledException for a disabled one.
   */
  async resolve(request: SseRequest): Promise<SseRequest> {
    if (request.kind !== 'SSE-KMS') return request;
    const { users, sealer, region } = this.options;
    const name = request.keyId === undefined ? DEFAULT_KMS_KEY : parseKmsKeyId(request.keyId, region);
    if (users.kmsKey(name) === undefined) await users.refreshSoon();
    if (users.kmsKey(name) === undefined && name === DEFAULT_KMS_KEY) await this.createDefault();
    sealer.usableKmsKey(name);
    return { ...request, keyName: name };
  }

  /** Writes the default key's record (the same material on every gateway: see newKmsKeyMaterial); concurrent callers share one write. */
  private createDefault(): Promise<void> {
    this.creatingDefault ??= (async () => {
      const { users, cluster, sealer, clock, timeoutMs } = this.options;
      try {
        const material = newKmsKeyMaterial(sealer.masterKeyring().current, DEFAULT_KMS_KEY, clock.nowMs());
        const record = { name: KMS_KEY_RECORD_PREFIX + DEFAULT_KMS_KEY, versionId: clock.next(), deleted: false, canonicalId: '', createdMs: clock.nowMs(), keys: [], kms: material };
        await writeUserRecord(cluster.allNodes(), record, timeoutMs());
        await users.refresh();
      } finally {
        this.creatingDefault = undefined;
      }
    })();
    return this.creatingDefault;
  }
}
