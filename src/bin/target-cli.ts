import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import type { Env } from '../common/index.js';
import { checkDefinedTarget, TARGET_NAME, type DefinedTarget } from '../events/index.js';
import { TargetAdmin, type TargetActions } from '../gateway/index.js';
import { NodeClient } from '../rpc/index.js';
import { adminApiClientFrom } from './admin-api-client.js';
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
  gateway: { type: 'string' },
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
  endpoint: { type: 'string' },
  bucket: { type: 'string' },
  region: { type: 'string' },
  'access-key': { type: 'string' },
  'secret-key-file': { type: 'string' },
  'secret-key-env': { type: 'string' },
} as const;

type Flags = { [K in keyof typeof OPTIONS]?: (typeof OPTIONS)[K]['type'] extends 'boolean' ? boolean | undefined : string | undefined };

async function smallFile(path: string, what: string): Promise<string> {
  const text = await readFile(path, 'utf8').catch((err: unknown) => {
    throw new Error(`cannot read the ${what} file ${path}: ${(err as Error).message}`);
  });
  if (Buffer.byteLength(text) > MAX_FILE_BYTES) throw new Error(`the ${what} file ${path} is larger than ${MAX_FILE_BYTES} bytes`);
  return text;
}

/** A secret read from `--NAME-file` or `--NAME-env` (exactly one of them when `required`). */
async function secretFrom(flags: Flags, env: Env, name: 'token' | 'secret-key', required: boolean): Promise<string | undefined> {
  const file = flags[`${name}-file` as const];
  const variable = flags[`${name}-env` as const];
  if (file !== undefined && variable !== undefined) throw new Error(`give --${name}-file or --${name}-env, not both`);
  if (file !== undefined) return (await smallFile(file, name === 'token' ? 'token' : 'secret key')).trim();
  if (variable !== undefined) {
    const value = env[variable];
    if (value === undefined || value === '') throw new Error(`the environment variable ${variable} is not set`);
    return value;
  }
  if (required) throw new Error(`the ${name} comes from --${name}-file or --${name}-env, never from the command line`);
  return undefined;
}

/**
 * The definition `target add` was given. Secrets never come on the command line, where `ps` and shell
 * history show them: a bearer token or an S3 secret key comes from a file or an environment variable,
 * and a URL holding a password from a file.
 */
async function definitionFrom(flags: Flags, env: Env): Promise<DefinedTarget> {
  if (flags.type === 's3') {
    if (flags.url !== undefined || flags['url-file'] !== undefined) throw new Error('an s3 target takes --endpoint, not --url');
    const secretAccessKey = await secretFrom(flags, env, 'secret-key', true);
    return checkDefinedTarget({
      type: 's3',
      endpoint: flags.endpoint,
      bucket: flags.bucket,
      ...(flags.region === undefined ? {} : { region: flags.region }),
      accessKeyId: flags['access-key'],
      secretAccessKey,
    });
  }
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
      const bearerToken = await secretFrom(flags, env, 'token', false);
      const caPem = flags['ca-file'] === undefined ? undefined : await smallFile(flags['ca-file'], 'CA');
      return checkDefinedTarget({ ...common, ...(bearerToken === undefined ? {} : { bearerToken }), ...(caPem === undefined ? {} : { caPem }) });
    }
    case 'amqp':
      return checkDefinedTarget({ ...common, exchange: flags.exchange, routingKey: flags['routing-key'] });
    case 'nats':
      return checkDefinedTarget({ ...common, subject: flags.subject });
    case 'redis':
      return checkDefinedTarget({ ...common, key: flags.key, format: flags.format ?? 'list' });
    case 'mqtt':
      return checkDefinedTarget({ ...common, topic: flags.topic, qos: flags.qos === undefined ? 1 : Number(flags.qos) });
    default:
      return checkDefinedTarget(common);
  }
}

/**
 * `tessera admin target add|list|remove`: event and replication targets, stored cluster-wide beside
 * users and policies. Through a gateway's admin API with `--gateway URL` (signed with AWS_ACCESS_KEY_ID
 * and AWS_SECRET_ACCESS_KEY: --endpoint, --access-key and --region describe an s3 target), else straight
 * to the nodes (`--config`, `--data`). Both run the same target actions (TargetAdmin).
 */
export async function runTargetCli(args: string[], env: Env, io: Io, resolveTarget: (config: string | undefined, data: string | undefined, env: Env) => Promise<AdminTarget>): Promise<number> {
  let flags: Flags;
  let positionals: string[];
  try {
    ({ values: flags, positionals } = parseArgs({ args, options: OPTIONS, allowPositionals: true, strict: true }));
    const [verb] = positionals;
    const arity = verb === 'list' ? 1 : verb === 'add' || verb === 'remove' ? 2 : -1;
    if (positionals.length !== arity) throw new Error(verb === undefined ? 'a target command is needed' : `unknown target command or arguments: ${positionals.join(' ')}`);
    if (flags.gateway !== undefined && (flags.config !== undefined || flags.data !== undefined)) throw new Error('--gateway goes to a gateway; --config and --data to the nodes: give one');
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
    let actions: TargetActions;
    if (flags.gateway !== undefined) {
      actions = adminApiClientFrom({ endpoint: flags.gateway }, env);
    } else {
      const target = await resolveTarget(flags.config, flags.data, env);
      clients = target.nodes.map((node) => new NodeClient({ nodeId: node.id, address: node.address, clusterSecret: target.clusterSecret, connections: 1 }));
      const nodes = clients;
      actions = new TargetAdmin({ nodes: () => nodes, timeoutMs: () => NODE_TIMEOUT_MS });
    }
    if (verb === 'list') {
      const rows = await actions.listTargets();
      say(rows.map((row) => `${row.name}\t${row.arn}\t${String(row['type'])}\t${String(row['url'])}\n`).join(''), rows);
    } else if (verb === 'add') {
      const added = await actions.addTarget(name as string, definition);
      say(`${added.arn}\n`, added);
    } else {
      const removed = await actions.removeTarget(name as string);
      say(`removed target ${removed.name}\n`, removed);
    }
    return 0;
  } catch (err) {
    io.stderr(`tessera admin target: ${(err as Error).message}\n`);
    return 1;
  } finally {
    await Promise.all(clients.map((client) => client.close()));
  }
}
