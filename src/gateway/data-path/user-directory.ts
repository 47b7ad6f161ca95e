import type { Logger } from '../../common/index.js';
import { KMS_KEY_RECORD_PREFIX, readUserRecords, TARGET_RECORD_PREFIX, type KmsKeyMaterial, type UserRecord } from '../../rpc/index.js';
import { BUILTIN_POLICIES, parsePolicy, type Policy, type Principal } from '../access/index.js';
import type { ClusterView } from '../cluster/index.js';

/** How often a gateway re-reads the users from the nodes: a change is seen within this. */
export const USER_REFRESH_MS = 2_000;
/** Shortest interval between two refreshes an unknown access key triggers: a flood of bad keys costs the nodes little. */
const MISS_REFRESH_MS = 500;

/** A known access key: its secret and who it belongs to. */
export interface KeyEntry {
  secretAccessKey: string;
  principal: Principal;
}

/**
 * The users and access keys of the cluster, as this gateway knows them: the administrator's keys
 * from the configuration, plus every user the nodes hold, re-read in the background every few
 * seconds and at once (rate-limited) when a request names a key not yet known. Lookups are
 * synchronous, so a request never waits for the nodes unless its key is new.
 * Secrets are held here and handed only to signature checks; nothing here logs a record.
 */
export class UserDirectory {
  private readonly cluster: ClusterView;
  private readonly logger: Logger;
  private readonly refreshMs: number;
  private readonly timeoutMs: number;
  private readonly admin: Principal & { kind: 'admin' };
  private readonly adminKeys: ReadonlyMap<string, string>;
  private keys = new Map<string, KeyEntry>();
  private names = new Map<string, string>();
  private policies = new Map<string, Policy[]>();
  private targets = new Map<string, string>();
  private kmsKeys = new Map<string, KmsKeyMaterial>();
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;
  private delayed: Promise<void> | undefined;
  private lastRefreshMs = 0;

  constructor(options: {
    cluster: ClusterView;
    logger: Logger;
    adminCredentials: readonly { accessKeyId: string; secretAccessKey: string }[];
    adminId: string;
    timeoutMs: number;
    refreshMs?: number;
  }) {
    this.cluster = options.cluster;
    this.logger = options.logger;
    this.timeoutMs = options.timeoutMs;
    this.refreshMs = options.refreshMs ?? USER_REFRESH_MS;
    this.admin = { kind: 'admin', canonicalId: options.adminId, name: options.adminId };
    this.adminKeys = new Map(options.adminCredentials.map((c) => [c.accessKeyId, c.secretAccessKey]));
    this.apply(new Map());
  }

  /** Reads the users once (a failure is logged: the administrator's keys work regardless), then keeps following them. */
  async start(): Promise<void> {
    await this.refresh();
    this.timer = setInterval(() => void this.refresh(), this.refreshMs);
    this.timer.unref();
  }

  /** Stops following. */
  close(): void {
    clearInterval(this.timer);
  }

  /** The administrator, as principal. */
  get administrator(): Principal {
    return this.admin;
  }

  /** The secret and owner of an access key, or undefined. */
  lookup(accessKeyId: string): KeyEntry | undefined {
    return this.keys.get(accessKeyId);
  }

  /** Whether a canonical id names the administrator or a current user. */
  knows(canonicalId: string): boolean {
    return this.names.has(canonicalId);
  }

  /** The display name of a canonical id: the user's name; an id no longer known shows as itself. */
  displayName(canonicalId: string): string {
    return this.names.get(canonicalId) ?? canonicalId;
  }

  /** The identity policies attached to a user, parsed; attached names that name no policy count for nothing. */
  policiesOf(canonicalId: string): readonly Policy[] {
    return this.policies.get(canonicalId) ?? [];
  }

  /** The stored definition (JSON) of the event target `name`, or undefined when there is none. */
  targetDefinition(name: string): string | undefined {
    return this.targets.get(name);
  }

  /** The material (sealed) of KMS key `name`, or undefined when there is none. */
  kmsKey(name: string): KmsKeyMaterial | undefined {
    return this.kmsKeys.get(name);
  }

  /**
   * Re-reads the users for a request naming an unknown key: at once, or when the last read is
   * MISS_REFRESH_MS old, so a flood of bad keys makes one read per interval, shared by all of them.
   */
  async refreshSoon(): Promise<void> {
    const waitMs = this.lastRefreshMs + MISS_REFRESH_MS - Date.now();
    if (waitMs <= 0) return this.refresh();
    this.delayed ??= new Promise<void>((resolve) => setTimeout(resolve, waitMs).unref()).then(() => {
      this.delayed = undefined;
      return this.refresh();
    });
    return this.delayed;
  }

  /**
   * Re-reads the users with a read that starts after this call (not one already under way, which may
   * have missed a change): after a change this gateway made, so that its next request sees it.
   */
  async refreshNow(): Promise<void> {
    await this.inFlight;
    return this.refresh();
  }

  /** Re-reads every user from a majority of the nodes; concurrent calls share one read. */
  refresh(): Promise<void> {
    this.inFlight ??= (async () => {
      this.lastRefreshMs = Date.now();
      try {
        this.apply(await readUserRecords(this.cluster.allNodes(), this.timeoutMs));
      } catch (err) {
        this.logger.warn({ err }, 'could not read users from the nodes; keeping the last known ones');
      } finally {
        this.inFlight = undefined;
      }
    })();
    return this.inFlight;
  }

  private apply(users: ReadonlyMap<string, UserRecord>): void {
    const keys = new Map<string, KeyEntry>();
    const names = new Map<string, string>([[this.admin.canonicalId, this.admin.name]]);
    const documents = new Map<string, string>(Object.entries(BUILTIN_POLICIES));
    const targets = new Map<string, string>();
    const kmsKeys = new Map<string, KmsKeyMaterial>();
    for (const record of users.values()) {
      if (!record.deleted && record.name.startsWith(KMS_KEY_RECORD_PREFIX) && record.kms !== undefined) kmsKeys.set(record.name.slice(KMS_KEY_RECORD_PREFIX.length), record.kms);
      if (!record.deleted && record.name.startsWith(POLICY_PREFIX) && record.policy !== undefined) documents.set(record.name.slice(POLICY_PREFIX.length), record.policy);
      if (!record.deleted && record.name.startsWith(TARGET_RECORD_PREFIX) && record.target !== undefined) targets.set(record.name.slice(TARGET_RECORD_PREFIX.length), record.target);
    }
    const parsed = new Map<string, Policy>();
    for (const [name, document] of documents) {
      try {
        // Checked against the bounds when it was set; one stored before them still applies.
        parsed.set(name, parsePolicy(document, { stored: true }));
      } catch (err) {
        this.logger.warn({ err, policy: name }, 'ignoring a stored policy that does not parse');
      }
    }
    const policies = new Map<string, Policy[]>();
    for (const user of users.values()) {
      if (user.deleted || user.name.startsWith(POLICY_PREFIX) || user.name.startsWith(TARGET_RECORD_PREFIX) || user.name.startsWith(KMS_KEY_RECORD_PREFIX)) continue;
      const principal: Principal = { kind: 'user', canonicalId: user.canonicalId, name: user.name };
      names.set(user.canonicalId, user.name);
      for (const key of user.keys) if (key.disabled !== true) keys.set(key.accessKeyId, { secretAccessKey: key.secretAccessKey, principal });
      const attached = (user.attached ?? []).map((name) => parsed.get(name)).filter((p): p is Policy => p !== undefined);
      if (attached.length > 0) policies.set(user.canonicalId, attached);
    }
    // The configuration's keys always belong to the administrator, whatever a user record says.
    for (const [accessKeyId, secretAccessKey] of this.adminKeys) keys.set(accessKeyId, { secretAccessKey, principal: this.admin });
    this.keys = keys;
    this.names = names;
    this.policies = policies;
    this.targets = targets;
    this.kmsKeys = kmsKeys;
  }
}

/** Names of the records that hold named identity policies rather than users. */
export const POLICY_PREFIX = 'policy:';
