import { randomBytes } from 'node:crypto';
import { randomHex, TesseraError } from '../../common/index.js';
import { KMS_KEY_RECORD_PREFIX, TARGET_RECORD_PREFIX, type AccessKey, type UserRecord } from '../../rpc/index.js';
import { BUILTIN_POLICIES, parsePolicy } from '../access/index.js';
import { S3Error } from '../s3/index.js';
import { POLICY_PREFIX } from './user-directory.js';
import { byName, ClusterRecords, type ClusterRecordsOptions, type RecordSnapshot } from './record-admin.js';

/** User names as IAM allows them. */
const USER_NAME = /^[A-Za-z0-9+=,.@_-]{1,64}$/;
/** Policy names: as IAM allows them. */
const POLICY_NAME = /^[A-Za-z0-9+=,.@_-]{1,128}$/;
/** Access key ids: the shape newAccessKeyId makes, or a configured one (letters, digits and - _ .). */
const ACCESS_KEY_ID = /^[A-Za-z0-9._-]{1,128}$/;

/** Why an identity action was refused; `code` is stable (the admin API answers it, the CLI prints the message). */
export type IdentityErrorCode = 'InvalidName' | 'NoSuchUser' | 'UserAlreadyExists' | 'NoSuchAccessKey' | 'NoSuchPolicy' | 'PolicyNotAttached' | 'MalformedPolicy';

/** An identity action refused for the caller's input (the cluster's own faults keep their own errors). */
export class IdentityError extends TesseraError<IdentityErrorCode> {}

/** A user as listed: no secrets. */
export interface UserSummary {
  name: string;
  canonicalId: string;
  createdMs: number;
  accessKeyIds: string[];
  policies: string[];
}

/** One access key as shown after it was made: no secret. */
export interface KeySummary {
  accessKeyId: string;
  createdMs: number;
  enabled: boolean;
}

/** A user in full: its keys (without secrets) and attached policies. */
export interface UserDetail extends Omit<UserSummary, 'accessKeyIds'> {
  keys: KeySummary[];
}

/** A policy as listed: built in or stored, and who has it attached. */
export interface PolicySummary {
  name: string;
  kind: 'built in' | 'stored';
  users: string[];
}

/** Every identity action `tessera admin user|key|policy` and the admin API offer; results are JSON values. */
export interface IdentityActions {
  listUsers(): Promise<UserSummary[]>;
  getUser(name: string): Promise<UserDetail>;
  createUser(name: string): Promise<{ user: string; canonicalId: string; accessKeyId: string; secretAccessKey: string }>;
  deleteUser(name: string): Promise<{ removed: 'user'; user: string; accessKeyIds: string[] }>;
  listKeys(user: string): Promise<KeySummary[]>;
  createKey(user: string): Promise<{ user: string; accessKeyId: string; secretAccessKey: string }>;
  setKeyEnabled(accessKeyId: string, enabled: boolean): Promise<{ user: string; accessKeyId: string; enabled: boolean }>;
  deleteKey(accessKeyId: string): Promise<{ removed: 'key'; user: string; accessKeyId: string }>;
  listPolicies(): Promise<PolicySummary[]>;
  getPolicy(name: string): Promise<{ name: string; kind: 'built in' | 'stored'; document: unknown }>;
  putPolicy(name: string, document: string): Promise<{ stored: 'policy'; policy: string; replaced: boolean }>;
  attachPolicy(user: string, policy: string): Promise<{ user: string; policy: string; attached: true }>;
  detachPolicy(user: string, policy: string): Promise<{ user: string; policy: string; attached: false }>;
}

/** A new access key id: 20 characters of [A-Z0-9], as AWS's. */
export function newAccessKeyId(): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  return `TK${[...randomBytes(18)].map((b) => alphabet[b % 32]).join('')}`;
}

const SECRET_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const SECRET_LENGTH = 40;

/**
 * A new secret key: 40 characters of [A-Za-z0-9] (about 238 bits). Letters and digits only, so a key
 * pasted into a command line, a credentials file or a URL never needs quoting: a leading `-` would be
 * read as an option by the client that is handed it.
 */
export function newSecretKey(): string {
  let key = '';
  while (key.length < SECRET_LENGTH) {
    // Bytes at or above 248 (4 x 62) are dropped, so every character is equally likely.
    for (const byte of randomBytes(SECRET_LENGTH)) if (byte < 248 && key.length < SECRET_LENGTH) key += SECRET_ALPHABET[byte % 62];
  }
  return key;
}

/** Whether a record is a user's (not a policy's, target's or KMS key's, whose names no user can have). */
function isUser(record: UserRecord): boolean {
  return !record.deleted && !record.name.startsWith(POLICY_PREFIX) && !record.name.startsWith(TARGET_RECORD_PREFIX) && !record.name.startsWith(KMS_KEY_RECORD_PREFIX);
}

function checkName(kind: 'user' | 'policy', name: string): void {
  const rule = kind === 'user' ? USER_NAME : POLICY_NAME;
  if (!rule.test(name)) {
    throw new IdentityError('InvalidName', `invalid ${kind} name ${JSON.stringify(name.slice(0, 200))}: 1-${kind === 'user' ? 64 : 128} characters of A-Z a-z 0-9 + = , . @ _ -`);
  }
}

function keySummary(key: AccessKey): KeySummary {
  return { accessKeyId: key.accessKeyId, createdMs: key.createdMs, enabled: key.disabled !== true };
}

/** The users, policies and clock of one read of the records: every action works on a fresh one. */
interface Snapshot extends RecordSnapshot {
  users: UserRecord[];
}

/**
 * The one implementation of the identity actions: users, their access keys and identity policies,
 * kept as user records on every node (rpc/user-records.ts). Each action reads the records from a
 * majority, then writes the changed one to a majority; the admin API and `tessera admin` (talking to
 * the nodes directly) both call it. Secrets leave only in the answer of the action that made them.
 */
export class IdentityAdmin implements IdentityActions {
  private readonly records: ClusterRecords;

  constructor(options: ClusterRecordsOptions) {
    this.records = new ClusterRecords(options);
  }

  async listUsers(): Promise<UserSummary[]> {
    const { users } = await this.read();
    return users.map((user) => ({
      name: user.name,
      canonicalId: user.canonicalId,
      createdMs: user.createdMs,
      accessKeyIds: user.keys.map((k) => k.accessKeyId),
      policies: user.attached ?? [],
    }));
  }

  async getUser(name: string): Promise<UserDetail> {
    checkName('user', name);
    const user = requireUser((await this.read()).users, name);
    return { name: user.name, canonicalId: user.canonicalId, createdMs: user.createdMs, keys: user.keys.map(keySummary), policies: user.attached ?? [] };
  }

  async createUser(name: string): Promise<{ user: string; canonicalId: string; accessKeyId: string; secretAccessKey: string }> {
    checkName('user', name);
    const { records, clock } = await this.read();
    if (records.get(name)?.deleted === false) throw new IdentityError('UserAlreadyExists', `user ${name} already exists`);
    const key = { accessKeyId: newAccessKeyId(), secretAccessKey: newSecretKey(), createdMs: clock.nowMs() };
    const canonicalId = randomHex(32);
    await this.records.write({ name, versionId: clock.next(), deleted: false, canonicalId, createdMs: clock.nowMs(), keys: [key] });
    return { user: name, canonicalId, accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey };
  }

  async deleteUser(name: string): Promise<{ removed: 'user'; user: string; accessKeyIds: string[] }> {
    checkName('user', name);
    const { users, clock } = await this.read();
    const user = requireUser(users, name);
    await this.records.write({ ...user, versionId: clock.next(), deleted: true, keys: [] });
    return { removed: 'user', user: name, accessKeyIds: user.keys.map((k) => k.accessKeyId) };
  }

  async listKeys(name: string): Promise<KeySummary[]> {
    return (await this.getUser(name)).keys;
  }

  async createKey(name: string): Promise<{ user: string; accessKeyId: string; secretAccessKey: string }> {
    checkName('user', name);
    const { users, clock } = await this.read();
    const user = requireUser(users, name);
    const key = { accessKeyId: newAccessKeyId(), secretAccessKey: newSecretKey(), createdMs: clock.nowMs() };
    await this.records.write({ ...user, versionId: clock.next(), keys: [...user.keys, key] });
    return { user: name, accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey };
  }

  async setKeyEnabled(accessKeyId: string, enabled: boolean): Promise<{ user: string; accessKeyId: string; enabled: boolean }> {
    const { users, clock } = await this.read();
    const owner = requireKeyOwner(users, accessKeyId);
    const keys = owner.keys.map((k): AccessKey => {
      if (k.accessKeyId !== accessKeyId) return k;
      const { disabled: _, ...rest } = k;
      return enabled ? rest : { ...rest, disabled: true };
    });
    await this.records.write({ ...owner, versionId: clock.next(), keys });
    return { user: owner.name, accessKeyId, enabled };
  }

  async deleteKey(accessKeyId: string): Promise<{ removed: 'key'; user: string; accessKeyId: string }> {
    const { users, clock } = await this.read();
    const owner = requireKeyOwner(users, accessKeyId);
    await this.records.write({ ...owner, versionId: clock.next(), keys: owner.keys.filter((k) => k.accessKeyId !== accessKeyId) });
    return { removed: 'key', user: owner.name, accessKeyId };
  }

  async listPolicies(): Promise<PolicySummary[]> {
    const snapshot = await this.read();
    const stored = storedPolicies(snapshot.records);
    const known = new Set([...Object.keys(BUILTIN_POLICIES), ...stored.keys()]);
    return [...known].sort().map((name) => ({
      name,
      kind: stored.has(name) ? 'stored' : 'built in',
      users: snapshot.users.filter((u) => u.attached?.includes(name)).map((u) => u.name),
    }));
  }

  async getPolicy(name: string): Promise<{ name: string; kind: 'built in' | 'stored'; document: unknown }> {
    checkName('policy', name);
    const stored = storedPolicies((await this.read()).records).get(name);
    const document = stored ?? (Object.hasOwn(BUILTIN_POLICIES, name) ? BUILTIN_POLICIES[name] : undefined);
    if (document === undefined) throw new IdentityError('NoSuchPolicy', `no policy ${name}`);
    return { name, kind: stored === undefined ? 'built in' : 'stored', document: JSON.parse(document) as unknown };
  }

  async putPolicy(name: string, document: string): Promise<{ stored: 'policy'; policy: string; replaced: boolean }> {
    checkName('policy', name);
    try {
      parsePolicy(document);
    } catch (err) {
      if (err instanceof S3Error) throw new IdentityError('MalformedPolicy', err.message);
      throw err;
    }
    const { records, clock } = await this.read();
    const current = records.get(POLICY_PREFIX + name);
    await this.records.write({
      name: POLICY_PREFIX + name,
      versionId: clock.next(),
      deleted: false,
      canonicalId: current?.canonicalId ?? '',
      createdMs: current?.createdMs ?? clock.nowMs(),
      keys: [],
      policy: document,
    });
    return { stored: 'policy', policy: name, replaced: current !== undefined && !current.deleted };
  }

  async attachPolicy(name: string, policy: string): Promise<{ user: string; policy: string; attached: true }> {
    checkName('user', name);
    checkName('policy', policy);
    const { records, users, clock } = await this.read();
    const user = requireUser(users, name);
    if (!Object.hasOwn(BUILTIN_POLICIES, policy) && !storedPolicies(records).has(policy)) throw new IdentityError('NoSuchPolicy', `no policy ${policy}`);
    const attached = user.attached ?? [];
    if (!attached.includes(policy)) await this.records.write({ ...user, versionId: clock.next(), attached: [...attached, policy] });
    return { user: name, policy, attached: true };
  }

  async detachPolicy(name: string, policy: string): Promise<{ user: string; policy: string; attached: false }> {
    checkName('user', name);
    checkName('policy', policy);
    const { users, clock } = await this.read();
    const user = requireUser(users, name);
    const attached = user.attached ?? [];
    if (!attached.includes(policy)) throw new IdentityError('PolicyNotAttached', `${name} has no policy ${policy} attached`);
    await this.records.write({ ...user, versionId: clock.next(), attached: attached.filter((n) => n !== policy) });
    return { user: name, policy, attached: false };
  }

  private async read(): Promise<Snapshot> {
    const { records, clock } = await this.records.read();
    const users = [...records.values()].filter(isUser).sort(byName);
    return { records, users, clock };
  }
}

function requireUser(users: readonly UserRecord[], name: string): UserRecord {
  const user = users.find((u) => u.name === name);
  if (user === undefined) throw new IdentityError('NoSuchUser', `no user ${name}`);
  return user;
}

function requireKeyOwner(users: readonly UserRecord[], accessKeyId: string): UserRecord {
  if (!ACCESS_KEY_ID.test(accessKeyId)) throw new IdentityError('InvalidName', 'invalid access key id');
  const owner = users.find((u) => u.keys.some((k) => k.accessKeyId === accessKeyId));
  if (owner === undefined) throw new IdentityError('NoSuchAccessKey', `no user has access key ${accessKeyId}`);
  return owner;
}

/** The stored policies' documents by name. */
function storedPolicies(records: ReadonlyMap<string, UserRecord>): Map<string, string> {
  const stored = new Map<string, string>();
  for (const record of records.values()) {
    if (!record.deleted && record.name.startsWith(POLICY_PREFIX) && record.policy !== undefined) stored.set(record.name.slice(POLICY_PREFIX.length), record.policy);
  }
  return stored;
}
