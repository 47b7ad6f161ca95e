import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { HybridClock, randomHex, type Env } from '../common/index.js';
import { NodeClient, readUserRecords, writeUserRecord, type UserRecord } from '../rpc/index.js';
import { resolveTarget } from './admin-cli.js';

/** Longest wait for one node's answer to a user-record call. */
const NODE_TIMEOUT_MS = 10_000;
/** User names as IAM allows them. */
const USER_NAME = /^[A-Za-z0-9+=,.@_-]{1,64}$/;

export const USER_USAGE = `usage: tessera admin user add|list|remove [NAME] [--config FILE | --data DIR]
       tessera admin key add NAME | key remove KEYID [--config FILE | --data DIR]

  user add NAME      create a user with one access key; prints its access key and secret key
  user list          every user: name, canonical id, access key ids (never secrets)
  user remove NAME   remove a user and all its keys; its buckets keep their owner id
  key add NAME       give a user another access key (rotation: both stay valid until one is removed)
  key remove KEYID   revoke one access key
`;

type Io = { stdout(s: string): void; stderr(s: string): void };

/** A new access key id: 20 characters of [A-Z0-9], as AWS's. */
export function newAccessKeyId(): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  return `TK${[...randomBytes(18)].map((b) => alphabet[b % 32]).join('')}`;
}

/** A new secret key: 40 characters of base64url. */
export function newSecretKey(): string {
  return randomBytes(30).toString('base64url');
}

/** `tessera admin user ...` and `tessera admin key ...`. */
export async function runUserCli(noun: 'user' | 'key', args: string[], env: Env, io: Io): Promise<number> {
  let parsed: { values: { config?: string | undefined; data?: string | undefined }; positionals: string[] };
  try {
    parsed = parseArgs({ args, options: { config: { type: 'string' }, data: { type: 'string' } }, allowPositionals: true, strict: true });
  } catch (err) {
    io.stderr(`${(err as Error).message}\n${USER_USAGE}`);
    return 2;
  }
  const [verb, argument, ...extra] = parsed.positionals;
  const needsArgument = !(noun === 'user' && verb === 'list');
  const known = noun === 'user' ? ['add', 'list', 'remove'] : ['add', 'remove'];
  if (verb === undefined || !known.includes(verb) || (needsArgument && argument === undefined) || (!needsArgument && argument !== undefined) || extra.length > 0) {
    io.stderr(USER_USAGE);
    return 2;
  }
  let clients: NodeClient[] = [];
  try {
    const target = await resolveTarget(parsed.values.config, parsed.values.data, env);
    clients = target.nodes.map((node) => new NodeClient({ nodeId: node.id, address: node.address, clusterSecret: target.clusterSecret, connections: 1 }));
    const users = await readUserRecords(clients, NODE_TIMEOUT_MS);
    const clock = new HybridClock();
    for (const record of users.values()) clock.observe(record.versionId);
    const write = (record: UserRecord): Promise<void> => writeUserRecord(clients, record, NODE_TIMEOUT_MS);
    const live = [...users.values()].filter((u) => !u.deleted).sort((a, b) => (a.name < b.name ? -1 : 1));
    if (noun === 'user' && verb === 'list') {
      for (const user of live) io.stdout(`${user.name}\t${user.canonicalId}\t${user.keys.map((k) => k.accessKeyId).join(',')}\n`);
      return 0;
    }
    const name = argument as string;
    if (noun === 'user' && verb === 'add') {
      if (!USER_NAME.test(name)) throw new Error(`invalid user name ${JSON.stringify(name)}: 1-64 characters of A-Z a-z 0-9 + = , . @ _ -`);
      if (users.get(name)?.deleted === false) throw new Error(`user ${name} already exists`);
      const key = { accessKeyId: newAccessKeyId(), secretAccessKey: newSecretKey(), createdMs: clock.nowMs() };
      await write({ name, versionId: clock.next(), deleted: false, canonicalId: randomHex(32), createdMs: clock.nowMs(), keys: [key] });
      io.stdout(`access key: ${key.accessKeyId}\nsecret key: ${key.secretAccessKey}\n`);
      return 0;
    }
    if (noun === 'user' && verb === 'remove') {
      const user = users.get(name);
      if (user === undefined || user.deleted) throw new Error(`no user ${name}`);
      await write({ ...user, versionId: clock.next(), deleted: true, keys: [] });
      io.stdout(`removed user ${name}\n`);
      return 0;
    }
    if (verb === 'add') {
      const user = users.get(name);
      if (user === undefined || user.deleted) throw new Error(`no user ${name}`);
      const key = { accessKeyId: newAccessKeyId(), secretAccessKey: newSecretKey(), createdMs: clock.nowMs() };
      await write({ ...user, versionId: clock.next(), keys: [...user.keys, key] });
      io.stdout(`access key: ${key.accessKeyId}\nsecret key: ${key.secretAccessKey}\n`);
      return 0;
    }
    const owner = live.find((u) => u.keys.some((k) => k.accessKeyId === name));
    if (owner === undefined) throw new Error(`no user has access key ${name}`);
    await write({ ...owner, versionId: clock.next(), keys: owner.keys.filter((k) => k.accessKeyId !== name) });
    io.stdout(`removed access key ${name} of user ${owner.name}\n`);
    return 0;
  } catch (err) {
    io.stderr(`tessera admin ${noun}: ${(err as Error).message}\n`);
    return 1;
  } finally {
    await Promise.all(clients.map((client) => client.close()));
  }
}
