import type { HybridClock } from '../../common/index.js';
import { KMS_KEY_RECORD_PREFIX, type KmsKeyMaterial, type UserRecord } from '../../rpc/index.js';
import { DEFAULT_KMS_KEY, KMS_KEY_NAME, kmsKeyArn, newKmsKeyMaterial, type MasterKeyring } from '../encryption/index.js';
import { byName, ClusterRecords, RecordAdminError, type ClusterRecordsOptions } from './record-admin.js';

/** One KMS key as listed: never its material. */
export interface KmsKeySummary {
  name: string;
  arn: string;
  state: 'Enabled' | 'Disabled';
  versions: number;
  createdMs: number;
  rotatedMs: number;
}

/** The KMS key actions `tessera admin kms key` and the admin API offer; results are JSON values. */
export interface KmsKeyActions {
  listKmsKeys(): Promise<KmsKeySummary[]>;
  createKmsKey(name: string): Promise<KmsKeySummary>;
  rotateKmsKey(name: string): Promise<KmsKeySummary>;
  setKmsKeyEnabled(name: string, enabled: boolean): Promise<KmsKeySummary>;
}

/** Where the KMS key actions read and write, and what a created key is sealed under. */
export interface KmsKeyAdminOptions extends ClusterRecordsOptions {
  /** The region key ARNs name. */
  region: string;
  /** The master keys a new key's root is sealed under; throws when there are none (only `create` asks). */
  masterKeys: () => MasterKeyring | Promise<MasterKeyring>;
}

type KmsRecord = UserRecord & { kms: KmsKeyMaterial };

function isKmsKey(record: UserRecord): record is KmsRecord {
  return !record.deleted && record.name.startsWith(KMS_KEY_RECORD_PREFIX) && record.kms !== undefined;
}

/** Checks a key name: a created key's must match KMS_KEY_NAME; the default key (made on first use) may be changed, not created. */
function checkKeyName(name: string, creating: boolean): void {
  if (KMS_KEY_NAME.test(name) || (!creating && name === DEFAULT_KMS_KEY)) return;
  throw new RecordAdminError('InvalidName', `invalid key name ${JSON.stringify(name.slice(0, 100))}: 1-64 characters of A-Z a-z 0-9 _ -`);
}

/**
 * The one implementation of the KMS key actions: the named SSE-KMS keys of the built-in key service,
 * kept as records beside users on every node (`kms:NAME`). `create` makes a random root sealed under
 * the current master key; `rotate` adds a version (new writes use it, every older one still opens what
 * it sealed); a disabled key refuses every write and read until enabled again. Each action reads the
 * records from a majority and writes the changed one to a majority; the admin API and `tessera admin`
 * (talking to the nodes directly) both call it.
 */
export class KmsKeyAdmin implements KmsKeyActions {
  private readonly options: KmsKeyAdminOptions;
  private readonly records: ClusterRecords;

  constructor(options: KmsKeyAdminOptions) {
    this.options = options;
    this.records = new ClusterRecords(options);
  }

  async listKmsKeys(): Promise<KmsKeySummary[]> {
    const { records } = await this.records.read();
    return [...records.values()]
      .filter(isKmsKey)
      .sort(byName)
      .map((record) => this.summary(record));
  }

  async createKmsKey(name: string): Promise<KmsKeySummary> {
    checkKeyName(name, true);
    // Read first, so a missing master key file costs no node a question.
    let masterKeys: MasterKeyring;
    try {
      masterKeys = await this.options.masterKeys();
    } catch (err) {
      throw new RecordAdminError('NoMasterKey', `a KMS key is sealed under the master key file, and there is none: ${(err as Error).message}`, { cause: err });
    }
    const { records, clock } = await this.records.read();
    const current = records.get(KMS_KEY_RECORD_PREFIX + name);
    if (current !== undefined && !current.deleted) throw new RecordAdminError('KmsKeyAlreadyExists', `KMS key ${name} already exists`);
    const kms = newKmsKeyMaterial(masterKeys.current, name, clock.nowMs());
    const record: KmsRecord = { name: KMS_KEY_RECORD_PREFIX + name, versionId: clock.next(), deleted: false, canonicalId: '', createdMs: clock.nowMs(), keys: [], kms };
    await this.records.write(record);
    return this.summary(record);
  }

  async rotateKmsKey(name: string): Promise<KmsKeySummary> {
    return this.change(name, (kms, clock) => ({ ...kms, versions: kms.versions + 1, rotatedMs: clock.nowMs() }));
  }

  async setKmsKeyEnabled(name: string, enabled: boolean): Promise<KmsKeySummary> {
    return this.change(name, (kms) => ({ ...kms, disabled: !enabled }));
  }

  private async change(name: string, next: (kms: KmsKeyMaterial, clock: HybridClock) => KmsKeyMaterial): Promise<KmsKeySummary> {
    checkKeyName(name, false);
    const { records, clock } = await this.records.read();
    const current = records.get(KMS_KEY_RECORD_PREFIX + name);
    if (current === undefined || !isKmsKey(current)) throw new RecordAdminError('NoSuchKmsKey', `no KMS key ${name}`);
    const record: KmsRecord = { ...current, versionId: clock.next(), kms: next(current.kms, clock) };
    await this.records.write(record);
    return this.summary(record);
  }

  private summary(record: KmsRecord): KmsKeySummary {
    const name = record.name.slice(KMS_KEY_RECORD_PREFIX.length);
    return {
      name,
      arn: kmsKeyArn(this.options.region, name),
      state: record.kms.disabled ? 'Disabled' : 'Enabled',
      versions: record.kms.versions,
      createdMs: record.createdMs,
      rotatedMs: record.kms.rotatedMs,
    };
  }
}
