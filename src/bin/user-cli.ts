import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { readFile } from 'node:fs/promises';
import { HybridClock, randomHex, type Env } from '../common/index.js';
import { BUILTIN_POLICIES, parsePolicy } from '../gateway/index.js';
import { KMS_KEY_RECORD_PREFIX, NodeClient, readUserRecords, TARGET_RECORD_PREFIX, writeUserRecord, type UserRecord } from '../rpc/index.js';
import { resolveTarget } from './admin-cli.js';
import { USER_USAGE } from './help.js';

/** Longest wait for one node's answer to a user-record call. */
const NODE_TIMEOUT_MS = 10_000;
/** User names as IAM allows them. */
const USER_NAME = /^[A-Za-z0-9+=,.@_-]{1,64}$/;

type Io = { stdout(s: string): void; stderr(s: string): void };

/** Prints either the text a person reads or, with --json, the value as one JSON document. */
type Say = (text: string, value: unknown) => void;

function sayFor(io: Io, json: boolean): Say {
  return (text, value) => io.stdout(json ? `${JSON.stringify(value, null, 2)}\n` : text);
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

/** `tessera admin user ...` and `tessera admin key ...`. */
export async function runUserCli(noun: 'user' | 'key' | 'policy', args: string[], env: Env, io: Io): Promise<number> {
  let parsed: { values: { config?: string | undefined; data?: string | undefined; json?: boolean | undefined }; positionals: string[] };
  try {
    parsed = parseArgs({ args, options: { config: { type: 'string' }, data: { type: 'string' }, json: { type: 'boolean' } }, allowPositionals: true, strict: true });
  } catch (err) {
    io.stderr(`${(err as Error).message}\n${USER_USAGE}`);
    return 2;
  }
  const [verb, argument, ...extra] = parsed.positionals;
  const arity: Record<string, Record<string, number>> = {
    user: { add: 1, list: 0, remove: 1 },
    key: { add: 1, remove: 1 },
    policy: { set: 2, attach: 2, detach: 2, list: 0 },
  };
  const wanted = verb === undefined ? undefined : arity[noun]?.[verb];
  if (wanted === undefined || parsed.positionals.length - 1 !== wanted) {
    io.stderr(USER_USAGE);
    return 2;
  }
  const say = sayFor(io, parsed.values.json === true);
  let clients: NodeClient[] = [];
  try {
    const target = await resolveTarget(parsed.values.config, parsed.values.data, env);
    clients = target.nodes.map((node) => new NodeClient({ nodeId: node.id, address: node.address, clusterSecret: target.clusterSecret, connections: 1 }));
    const users = await readUserRecords(clients, NODE_TIMEOUT_MS);
    const clock = new HybridClock();
    for (const record of users.values()) clock.observe(record.versionId);
    const write = (record: UserRecord): Promise<void> => writeUserRecord(clients, record, NODE_TIMEOUT_MS);
    const live = [...users.values()].filter((u) => !u.deleted && !u.name.startsWith(POLICY_PREFIX) && !u.name.startsWith(TARGET_RECORD_PREFIX) && !u.name.startsWith(KMS_KEY_RECORD_PREFIX)).sort((a, b) => (a.name < b.name ? -1 : 1));
    if (noun === 'policy') return await runPolicy(verb as string, argument, extra[0], users, live, clock, write, say);
    if (noun === 'user' && verb === 'list') {
      say(
        live.map((user) => `${user.name}\t${user.canonicalId}\t${user.keys.map((k) => k.accessKeyId).join(',')}\n`).join(''),
        live.map((user) => ({
          name: user.name,
          canonicalId: user.canonicalId,
          createdMs: user.createdMs,
          accessKeyIds: user.keys.map((k) => k.accessKeyId),
          policies: user.attached ?? [],
        })),
      );
      return 0;
    }
    const name = argument as string;
    if (noun === 'user' && verb === 'add') {
      if (!USER_NAME.test(name)) throw new Error(`invalid user name ${JSON.stringify(name)}: 1-64 characters of A-Z a-z 0-9 + = , . @ _ -`);
      if (users.get(name)?.deleted === false) throw new Error(`user ${name} already exists`);
      const key = { accessKeyId: newAccessKeyId(), secretAccessKey: newSecretKey(), createdMs: clock.nowMs() };
      const canonicalId = randomHex(32);
      await write({ name, versionId: clock.next(), deleted: false, canonicalId, createdMs: clock.nowMs(), keys: [key] });
      say(`access key: ${key.accessKeyId}\nsecret key: ${key.secretAccessKey}\n`, { user: name, canonicalId, accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey });
      return 0;
    }
    if (noun === 'user' && verb === 'remove') {
      const user = live.find((u) => u.name === name);
      if (user === undefined) throw new Error(`no user ${name}`);
      await write({ ...user, versionId: clock.next(), deleted: true, keys: [] });
      say(`removed user ${name}\n`, { removed: 'user', user: name, accessKeyIds: user.keys.map((k) => k.accessKeyId) });
      return 0;
    }
    if (verb === 'add') {
      const user = live.find((u) => u.name === name);
      if (user === undefined) throw new Error(`no user ${name}`);
      const key = { accessKeyId: newAccessKeyId(), secretAccessKey: newSecretKey(), createdMs: clock.nowMs() };
      await write({ ...user, versionId: clock.next(), keys: [...user.keys, key] });
      say(`access key: ${key.accessKeyId}\nsecret key: ${key.secretAccessKey}\n`, { user: name, accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey });
      return 0;
    }
    const owner = live.find((u) => u.keys.some((k) => k.accessKeyId === name));
    if (owner === undefined) throw new Error(`no user has access key ${name}`);
    await write({ ...owner, versionId: clock.next(), keys: owner.keys.filter((k) => k.accessKeyId !== name) });
    say(`removed access key ${name} of user ${owner.name}\n`, { removed: 'key', user: owner.name, accessKeyId: name });
    return 0;
  } catch (err) {
    io.stderr(`tessera admin ${noun}: ${(err as Error).message}\n`);
    return 1;
  } finally {
    await Promise.all(clients.map((client) => client.close()));
  }
}

/** Records named `policy:NAME` hold named identity policies (see UserRecord). */
const POLICY_PREFIX = 'policy:';
/** Policy names: as IAM allows them. */
const POLICY_NAME = /^[A-Za-z0-9+=,.@_-]{1,128}$/;

async function runPolicy(
  verb: string,
  first: string | undefined,
  second: string | undefined,
  records: ReadonlyMap<string, UserRecord>,
  users: readonly UserRecord[],
  clock: HybridClock,
  write: (record: UserRecord) => Promise<void>,
  say: Say,
): Promise<number> {
  const stored = [...records.values()].filter((r) => !r.deleted && r.name.startsWith(POLICY_PREFIX) && r.policy !== undefined);
  const known = new Set([...Object.keys(BUILTIN_POLICIES), ...stored.map((r) => r.name.slice(POLICY_PREFIX.length))]);
  if (verb === 'list') {
    const rows = [...known].sort().map((name) => ({
      name,
      kind: name in BUILTIN_POLICIES && !stored.some((r) => r.name === POLICY_PREFIX + name) ? 'built in' : 'stored',
      users: users.filter((u) => u.attached?.includes(name)).map((u) => u.name),
    }));
    say(rows.map((row) => `${row.name}\t${row.kind}\t${row.users.join(',')}\n`).join(''), rows);
    return 0;
  }
  if (verb === 'set') {
    const name = first as string;
    if (!POLICY_NAME.test(name)) throw new Error(`invalid policy name ${JSON.stringify(name)}`);
    const document = await readFile(second as string, 'utf8');
    try {
      parsePolicy(document);
    } catch (err) {
      throw new Error(`${second as string}: ${(err as Error).message}`);
    }
    const current = records.get(POLICY_PREFIX + name);
    await write({
      name: POLICY_PREFIX + name,
      versionId: clock.next(),
      deleted: false,
      canonicalId: current?.canonicalId ?? '',
      createdMs: current?.createdMs ?? clock.nowMs(),
      keys: [],
      policy: document,
    });
    say(`stored policy ${name}\n`, { stored: 'policy', policy: name, replaced: current !== undefined && !current.deleted });
    return 0;
  }
  const user = users.find((u) => u.name === first);
  if (user === undefined) throw new Error(`no user ${first as string}`);
  const name = second as string;
  const attached = user.attached ?? [];
  if (verb === 'attach') {
    if (!known.has(name)) throw new Error(`no policy ${name}`);
    if (!attached.includes(name)) await write({ ...user, versionId: clock.next(), attached: [...attached, name] });
    say(`attached ${name} to ${user.name}\n`, { user: user.name, policy: name, attached: true });
    return 0;
  }
  if (!attached.includes(name)) throw new Error(`${user.name} has no policy ${name} attached`);
  await write({ ...user, versionId: clock.next(), attached: attached.filter((n) => n !== name) });
  say(`detached ${name} from ${user.name}\n`, { user: user.name, policy: name, attached: false });
  return 0;
}
