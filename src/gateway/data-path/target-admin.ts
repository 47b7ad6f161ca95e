import { checkDefinedTarget, definedTargetArn, parseDefinedTarget, publicTargetFields, TARGET_NAME, TargetDefinitionError } from '../../events/index.js';
import { TARGET_RECORD_PREFIX } from '../../rpc/index.js';
import { byName, ClusterRecords, RecordAdminError, type ClusterRecordsOptions } from './record-admin.js';

/** One target as listed: its ARN and the fields that are not secret (a password in a URL shown as `***`). */
export type TargetSummary = { name: string; arn: string } & Record<string, string | number | boolean>;

/** The target actions `tessera admin target` and the admin API offer; results are JSON values. */
export interface TargetActions {
  listTargets(): Promise<TargetSummary[]>;
  /** Adds a target from its definition (a JSON value: `type`, `url`, ... as docs/events.md describes). */
  addTarget(name: string, definition: unknown): Promise<TargetSummary>;
  removeTarget(name: string): Promise<{ removed: 'target'; name: string }>;
}

/** Where the target actions read and write. */
export type TargetAdminOptions = ClusterRecordsOptions;

function checkTargetName(name: string): void {
  if (!TARGET_NAME.test(name)) throw new RecordAdminError('InvalidName', `invalid target name ${JSON.stringify(name.slice(0, 100))}: 1-64 characters of A-Z a-z 0-9 _ -`);
}

/**
 * The one implementation of the target actions: event notification targets (webhook, AMQP, NATS, Redis,
 * MQTT) and replication targets (another S3 bucket), kept as records beside users on every node
 * (`target:NAME`). A definition is checked in full before any node is asked; its secrets (a bearer
 * token, an S3 secret key, a URL's password) are stored and never answered. A target is replaced by
 * removing and adding it, so a bucket configuration never meets a half-changed one.
 */
export class TargetAdmin implements TargetActions {
  private readonly records: ClusterRecords;

  constructor(options: TargetAdminOptions) {
    this.records = new ClusterRecords(options);
  }

  async listTargets(): Promise<TargetSummary[]> {
    const { records } = await this.records.read();
    return [...records.values()]
      .filter((r) => !r.deleted && r.name.startsWith(TARGET_RECORD_PREFIX) && r.target !== undefined)
      .sort(byName)
      .map((record) => {
        const name = record.name.slice(TARGET_RECORD_PREFIX.length);
        try {
          const stored = parseDefinedTarget(record.target as string);
          return { name, arn: definedTargetArn(name, stored), ...publicTargetFields(stored) };
        } catch {
          return { name, arn: '', type: 'unreadable', url: '' };
        }
      });
  }

  async addTarget(name: string, definition: unknown): Promise<TargetSummary> {
    checkTargetName(name);
    let stored;
    try {
      stored = checkDefinedTarget(definition);
    } catch (err) {
      if (err instanceof TargetDefinitionError) throw new RecordAdminError('InvalidTarget', err.message, { cause: err });
      throw err;
    }
    const { records, clock } = await this.records.read();
    const current = records.get(TARGET_RECORD_PREFIX + name);
    if (current !== undefined && !current.deleted) throw new RecordAdminError('TargetAlreadyExists', `target ${name} already exists (remove it first)`);
    await this.records.write({ name: TARGET_RECORD_PREFIX + name, versionId: clock.next(), deleted: false, canonicalId: '', createdMs: clock.nowMs(), keys: [], target: JSON.stringify(stored) });
    return { name, arn: definedTargetArn(name, stored), ...publicTargetFields(stored) };
  }

  async removeTarget(name: string): Promise<{ removed: 'target'; name: string }> {
    checkTargetName(name);
    const { records, clock } = await this.records.read();
    const current = records.get(TARGET_RECORD_PREFIX + name);
    if (current === undefined || current.deleted) throw new RecordAdminError('NoSuchTarget', `no target ${name}`);
    // The tombstone keeps no definition: an older copy on a node that missed the removal loses to it.
    const { target: _removed, ...rest } = current;
    await this.records.write({ ...rest, versionId: clock.next(), deleted: true });
    return { removed: 'target', name };
  }
}
