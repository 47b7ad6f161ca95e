import { randomBytes } from 'node:crypto';
import { access, mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError, DEFAULTS, TesseraError, readSecretFile, writeSecretFile, type Env } from '../common/index.js';
import { DEFAULT_PARTITION_BITS, buildRing, parseRing, type Ring } from '../placement/index.js';
import { operatorSecret } from './config-files.js';
import { UsageError, fillOption, loadRing, parseNodeSpec, readNodesFile, showRing, writeRing } from './ring-cli.js';
import { describePush, newestHeldRing, pushRing, type PushTarget } from './ring-push.js';
import { CLUSTER_USAGE, PUSH_USAGE } from './help.js';

/** Where the cluster commands write. */
export interface CliIo {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
}

const INIT_OPTIONS = {
  node: { type: 'string', multiple: true },
  nodes: { type: 'string' },
  out: { type: 'string' },
  'data-shards': { type: 'string' },
  'parity-shards': { type: 'string' },
  'partition-bits': { type: 'string' },
  seed: { type: 'string' },
  fill: { type: 'string' },
  'secret-file': { type: 'string' },
  push: { type: 'boolean' },
  'wait-ms': { type: 'string' },
  force: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

function integerFlag(value: string | undefined, name: string, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < min || n > max) throw new UsageError(`--${name} must be an integer from ${min} to ${max}; got ${JSON.stringify(value)}`);
  return n;
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(() => true, () => false);
}

async function writeNew(path: string, text: string, force: boolean): Promise<void> {
  await writeFile(path, text, { mode: 0o644, flag: force ? 'w' : 'wx' });
}

async function clusterInit(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({ args, options: INIT_OPTIONS, allowPositionals: true, strict: true });
  if (values.help) {
    io.stdout(CLUSTER_USAGE);
    return 0;
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
  const members = [...(values.node ?? []).map(parseNodeSpec), ...(values.nodes === undefined ? [] : await readNodesFile(values.nodes))];
  const dataShards = integerFlag(values['data-shards'], 'data-shards', DEFAULTS.dataShards, 1, 128);
  const parityShards = integerFlag(values['parity-shards'], 'parity-shards', DEFAULTS.parityShards, 0, 128);
  if (members.length < dataShards + parityShards) {
    throw new UsageError(`init needs at least ${dataShards + parityShards} nodes for ${dataShards}+${parityShards} (--node SPEC or --nodes FILE); got ${members.length}`);
  }
  const out = resolve(values.out ?? '.');
  const force = values.force ?? false;
  const ringPath = join(out, 'ring.json');
  const secretPath = values['secret-file'] === undefined ? join(out, 'cluster-secret') : resolve(values['secret-file']);
  const credentialsPath = join(out, 's3-credentials.json');
  const gatewayPath = join(out, 'gateway.json');
  const made = values['secret-file'] === undefined ? [ringPath, secretPath, credentialsPath, gatewayPath] : [ringPath, gatewayPath];
  if (!force) for (const path of made) if (await exists(path)) throw new UsageError(`${path} exists; pass --force to replace it`);
  const ring = buildRing(null, members, {
    replicas: dataShards + parityShards,
    partitionBits: integerFlag(values['partition-bits'], 'partition-bits', DEFAULT_PARTITION_BITS, 0, 20),
    seed: integerFlag(values.seed, 'seed', 0, 0, Number.MAX_SAFE_INTEGER),
    fill: fillOption(values.fill),
  });
  // The directory holds the secret and the S3 key: its owner's only, when it is made here.
  await mkdir(out, { recursive: true, mode: 0o700 });
  let secret: string;
  if (values['secret-file'] === undefined) {
    secret = randomBytes(32).toString('hex');
    await writeSecretFile(secretPath, `${secret}\n`, { overwrite: force });
    const credentials = [{ accessKeyId: `TSR${randomBytes(8).toString('hex').toUpperCase()}`, secretAccessKey: randomBytes(30).toString('base64url') }];
    await writeSecretFile(credentialsPath, `${JSON.stringify(credentials, null, 2)}\n`, { overwrite: force });
  } else {
    secret = (await readSecretFile(secretPath, '--secret-file')).trim();
    if (secret.length < DEFAULTS.minClusterSecretLength) throw new ConfigError(`--secret-file ${secretPath}: the cluster secret must be at least ${DEFAULTS.minClusterSecretLength} characters`);
  }
  await writeRing(ringPath, ring);
  const gateway = {
    listen: `0.0.0.0:${DEFAULTS.gatewayListen.split(':')[1]}`,
    credentialsFile: 's3-credentials.json',
    clusterSecretFile: values['secret-file'] === undefined ? 'cluster-secret' : secretPath,
    erasure: { dataShards, parityShards },
    seeds: ring.nodes.map((node) => node.address),
  };
  await writeNew(gatewayPath, `${JSON.stringify(gateway, null, 2)}\n`, force);
  io.stdout(`wrote ${made.join(', ')}\n${showRing(ringPath, ring)}`);
  if (values.push !== true) {
    io.stdout(`\nnext: start the nodes, then: tessera ring push ${ringPath} --secret-file ${secretPath}\n`);
    return 0;
  }
  const waitMs = integerFlag(values['wait-ms'], 'wait-ms', 120_000, 0, 86_400_000);
  const targets = ring.nodes.map((node) => ({ id: node.id, address: node.address, member: true }));
  const results = await pushRing(ring, targets, { clusterSecret: secret, timeoutMs: 5_000, retryUntilMs: Date.now() + waitMs, onlyIfIdentical: true });
  io.stdout(`\n${describePush(ring, results)}`);
  const conflicts = results.filter((r) => r.outcome === 'conflict' || r.outcome === 'newer');
  if (conflicts.length > 0) {
    io.stderr('tessera cluster init: some nodes already hold another ring: this cluster was initialised before; change it with tessera ring add/remove and tessera ring push\n');
    return 1;
  }
  return results.every((r) => r.outcome === 'adopted' || r.outcome === 'current') ? 0 : 1;
}

const PUSH_OPTIONS = {
  config: { type: 'string' },
  'secret-file': { type: 'string' },
  node: { type: 'string', multiple: true },
  'timeout-ms': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function ringPush(args: string[], env: Env, io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({ args, options: PUSH_OPTIONS, allowPositionals: true, strict: true });
  if (values.help) {
    io.stdout(PUSH_USAGE);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError('push takes RING');
  // "-" reads the ring from standard input, e.g. through `kubectl exec -i` into a pod that has the secret.
  const ring: Ring = positionals[0] === '-' ? parseRing(await readStdin()) : await loadRing(positionals[0] as string);
  const { secret, seeds } = await operatorSecret({ secretFile: values['secret-file'], config: values.config }, env);
  const timeoutMs = integerFlag(values['timeout-ms'], 'timeout-ms', 5_000, 100, 600_000);
  const targets = new Map<string, PushTarget>();
  for (const node of ring.nodes) targets.set(node.address, { id: node.id, address: node.address, member: true });
  const extras = [...seeds, ...(values.node ?? [])];
  const previous = await newestHeldRing([...targets.keys(), ...extras], secret, timeoutMs);
  for (const node of previous?.nodes ?? []) if (!targets.has(node.address)) targets.set(node.address, { id: node.id, address: node.address, member: false });
  for (const address of extras) if (!targets.has(address)) targets.set(address, { id: address, address, member: false, idUnknown: true });
  const results = await pushRing(ring, [...targets.values()], { clusterSecret: secret, timeoutMs });
  io.stdout(describePush(ring, results));
  const failed = results.filter((r) => r.target.member && r.outcome !== 'adopted' && r.outcome !== 'current');
  if (failed.length > 0) io.stderr(`tessera ring push: ${failed.length} member node(s) did not take epoch ${ring.epoch}; push again once they are back\n`);
  return failed.length === 0 ? 0 : 1;
}

async function guarded(io: CliIo, prefix: string, usage: string, work: () => Promise<number>): Promise<number> {
  try {
    return await work();
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (err instanceof UsageError || (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_'))) {
      io.stderr(`${prefix}: ${(err as Error).message}\n${usage}`);
      return 2;
    }
    if (err instanceof TesseraError || err instanceof SyntaxError || typeof code === 'string') {
      io.stderr(`${prefix}: ${(err as Error).message}\n`);
      return 1;
    }
    throw err;
  }
}

/** `tessera cluster ...`: 0 on success, 1 when the work failed, 2 on a usage error. */
export async function runClusterCli(args: string[], io: CliIo): Promise<number> {
  const [command, ...rest] = args;
  if (command !== 'init') {
    io.stderr(command === undefined || command === '--help' || command === '-h' ? CLUSTER_USAGE : `tessera cluster: unknown command ${JSON.stringify(command)}\n${CLUSTER_USAGE}`);
    return command === '--help' || command === '-h' ? 0 : 2;
  }
  return guarded(io, 'tessera cluster init', CLUSTER_USAGE, () => clusterInit(rest, io));
}

/** `tessera ring push ...`: 0 when every member took the ring, 1 otherwise, 2 on a usage error. */
export async function runRingPush(args: string[], env: Env, io: CliIo): Promise<number> {
  return guarded(io, 'tessera ring push', PUSH_USAGE, () => ringPush(args, env, io));
}
