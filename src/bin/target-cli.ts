import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { HybridClock, type Env } from '../common/index.js';
import { checkTargetDefinition, parseTargetDefinition, publicTargetFields, targetArn, TARGET_NAME, type TargetDefinition } from '../events/index.js';
import { NodeClient, readUserRecords, TARGET_RECORD_PREFIX, writeUserRecord } from '../rpc/index.js';
import type { AdminTarget } from './admin-cli.js';
import { TARGET_USAGE } from './help.js';

/** Longest wait for one node's answer to a target-record call. */
const NODE_TIMEOUT_MS = 10_000;
/** Largest file a secret, URL or CA bundle is read from. */
const MAX_FILE_BYTES = 64 * 1024;

type Io = { stdout(s: string): void; stderr(s: string): void };

const OPTIONS = {
  config: { type: 'string' },
  data: { type: 'string' },
  json: { type: 'boolean' },
  type: { type: 'string' },
  url: { type: 'string' },
  'url-file': { type: 'string' },
  'token-file': { type: 'string' },
  'token-env': { type: 'string' },
  'ca-file': { type: 'string' },
  exchange: { type: 'string' },
  'routing-key': { type: 'string' },
  subject: { type: 'string' },
  key: { type: 'string' },
  format: { type: 'string' },
  topic: { type: 'string' },
  qos: { type: 'string' },
} as const;

type Flags = { [K in keyof typeof OPTIONS]?: (typeof OPTIONS)[K]['type'] extends 'boolean' ? boolean | undefined : string | undefined };

async function smallFile(path: string, what: string): Promise<string> {
  const text = await readFile(path, 'utf8').catch((err: unknown) => {
    throw new Error(`cannot read the ${what} file ${path}: ${(err as Error).message}`);
  });
  if (Buffer.byteLength(text) > MAX_FILE_BYTES) throw new Error(`the ${what} file ${path} is larger than ${MAX_FILE_BYTES} bytes`);
  return text;
}

/**
 * The definition `target add` was given. Secrets never come on the command line, where `ps` and shell
 * history show them: a bearer token comes from a file or an environment variable, and a URL holding a
 * password from a file.
 */
async function definitionFrom(flags: Flags, env: Env): Promise<TargetDefinition> {
  if (flags.url !== undefined && flags['url-file'] !== undefined) throw new Error('give --url or --url-file, not both');
  const url = flags['url-file'] !== undefined ? (await smallFile(flags['url-file'], 'URL')).trim() : flags.url;
  if (url !== undefined && flags['url-file'] === undefined) {
    try {
      if (new URL(url).password !== '') throw new Error('a URL with a password goes in a file (--url-file), not on the command line');
    } catch (err) {
      if (!(err instanceof TypeError)) throw err;
    }
  }
  const common = { type: flags.type, url };
  switch (flags.type) {
    case 'webhook': {
      if (flags['token-file'] !== undefined && flags['token-env'] !== undefined) throw new Error('give --token-file or --token-env, not both');
      let bearerToken: string | undefined;
      if (flags['token-file'] !== undefined) bearerToken = (await smallFile(flags['token-file'], 'token')).trim();
      if (flags['token-env'] !== undefined) {
        bearerToken = env[flags['token-env']];
        if (bearerToken === undefined || bearerToken === '') throw new Error(`the environment variable ${flags['token-env']} is not set`);
      }
      const caPem = flags['ca-file'] === undefined ? undefined : await smallFile(flags['ca-file'], 'CA');
      return checkTargetDefinition({ ...common, ...(bearerToken === undefined ? {} : { bearerToken }), ...(caPem === undefined ? {} : { caPem }) });
    }
    case 'amqp':
      return checkTargetDefinition({ ...common, exchange: flags.exchange, routingKey: flags['routing-key'] });
    case 'nats':
      return checkTargetDefinition({ ...common, subject: flags.subject });
    case 'redis':
      return checkTargetDefinition({ ...common, key: flags.key, format: flags.format ?? 'list' });
    case 'mqtt':
      return checkTargetDefinition({ ...common, topic: flags.topic, qos: flags.qos === undefined ? 1 : Number(flags.qos) });
    default:
      return checkTargetDefinition(common);
  }
}

/** `tessera admin target add|list|remove`: event targets, stored cluster-wide beside users and policies. */
export async function runTargetCli(args: string[], env: Env, io: Io, resolveTarget: (config: string | undefined, data: string | undefined, env: Env) => Promise<AdminTarget>): Promise<number> {
  let flags: Flags;
  let positionals: string[];
  try {
    ({ values: flags, positionals } = parseArgs({ args, options: OPTIONS, allowPositionals: true, strict: true }));
    const [verb] = positionals;
    const arity = verb === 'list' ? 1 : verb === 'add' || verb === 'remove' ? 2 : -1;
    if (positionals.length !== arity) throw new Error(verb === undefined ? 'a target command is needed' : `unknown target command or arguments: ${positionals.join(' ')}`);
  } catch (err) {
    io.stderr(`${(err as Error).message}\n${TARGET_USAGE}`);
    return 2;
  }
  const [verb, name] = positionals as [string, string | undefined];
  const json = flags.json === true;
  const say = (text: string, value: unknown): void => io.stdout(json ? `${JSON.stringify(value, null, 2)}\n` : text);
  let clients: NodeClient[] = [];
  try {
    if (name !== undefined && !TARGET_NAME.test(name)) throw new Error(`invalid target name ${JSON.stringify(name)}: 1-64 characters of A-Z a-z 0-9 _ -`);
    // Checked before any node is asked, so a wrong option costs nothing.
    const definition = verb === 'add' ? await definitionFrom(flags, env) : undefined;
    const target = await resolveTarget(flags.config, flags.data, env);
    clients = target.nodes.map((node) => new NodeClient({ nodeId: node.id, address: node.address, clusterSecret: target.clusterSecret, connections: 1 }));
    const records = await readUserRecords(clients, NODE_TIMEOUT_MS);
    const clock = new HybridClock();
    for (const record of records.values()) clock.observe(record.versionId);
    const live = [...records.values()]
      .filter((r) => !r.deleted && r.name.startsWith(TARGET_RECORD_PREFIX) && r.target !== undefined)
      .sort((a, b) => (a.name < b.name ? -1 : 1));
    if (verb === 'list') {
      const rows = live.map((record): Record<string, string | number | boolean> => {
        const targetName = record.name.slice(TARGET_RECORD_PREFIX.length);
        try {
          const stored = parseTargetDefinition(record.target as string);
          return { name: targetName, arn: targetArn(targetName, stored.type), ...publicTargetFields(stored) };
        } catch {
          return { name: targetName, arn: '', type: 'unreadable', url: '' };
        }
      });
      say(rows.map((row) => `${String(row['name'])}\t${String(row['arn'])}\t${String(row['type'])}\t${String(row['url'])}\n`).join(''), rows);
      return 0;
    }
    const recordName = TARGET_RECORD_PREFIX + (name as string);
    const current = records.get(recordName);
    if (verb === 'add') {
      const stored = definition as TargetDefinition;
      if (current !== undefined && !current.deleted) throw new Error(`target ${name as string} already exists (remove it first)`);
      await writeUserRecord(
        clients,
        { name: recordName, versionId: clock.next(), deleted: false, canonicalId: '', createdMs: clock.nowMs(), keys: [], target: JSON.stringify(stored) },
        NODE_TIMEOUT_MS,
      );
      const arn = targetArn(name as string, stored.type);
      say(`${arn}\n`, { name, arn, ...publicTargetFields(stored) });
      return 0;
    }
    if (current === undefined || current.deleted) throw new Error(`no target ${name as string}`);
    // The tombstone keeps no definition: an older copy on a node that missed the removal loses to it.
    const { target: _removed, ...rest } = current;
    await writeUserRecord(clients, { ...rest, versionId: clock.next(), deleted: true }, NODE_TIMEOUT_MS);
    say(`removed target ${name as string}\n`, { removed: 'target', name });
    return 0;
  } catch (err) {
    io.stderr(`tessera admin target: ${(err as Error).message}\n`);
    return 1;
  } finally {
    await Promise.all(clients.map((client) => client.close()));
  }
}
