import { setMaxListeners } from 'node:events';
import { access } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULTS, GatewaySettings, NodeSettings, silentLogger, TesseraError, type Env } from '../common/index.js';
import { parseDefinedTarget, parseReplicationArn, TARGET_NAME, type S3TargetDefinition } from '../events/index.js';
import { readMasterKeyFile, RemoteS3, ReplicationSource, resyncBucket, ResyncSelection, type ResyncProgress } from '../gateway/index.js';
import { parseRing, type Ring } from '../placement/index.js';
import { NodeClient, readUserRecords, TARGET_RECORD_PREFIX } from '../rpc/index.js';
import type { AdminTarget } from './admin-cli.js';
import { gatewayConfigFrom, readConfigFile } from './config-files.js';
import { REPLICATE_USAGE } from './help.js';
import { progressBar, timeLeft } from './progress-text.js';

/** Longest wait for one node's answer to a ring or target-record read. */
const NODE_TIMEOUT_MS = 10_000;
/** Keys sent at once unless --concurrency says otherwise, and the most it may say. */
const DEFAULT_CONCURRENCY = 4;
const MAX_CONCURRENCY = 64;
/** How often the progress line is drawn: redrawn in place on a terminal, a new line otherwise. */
const TERMINAL_EVERY_MS = 500;
const LOG_EVERY_MS = 5_000;
const MiB = 1024 * 1024;

type Io = { stdout(s: string): void; stderr(s: string): void; signal?: AbortSignal; isTerminal?: boolean };

/** A refusal before anything is sent: exit code 2, with its message. */
class UsageError extends TesseraError<'ResyncRefused'> {
  constructor(message: string) {
    super('ResyncRefused', message);
  }
}

const OPTIONS = {
  config: { type: 'string' },
  data: { type: 'string' },
  target: { type: 'string' },
  concurrency: { type: 'string' },
} as const;

/** The progress line of a resync: versions and bytes done of their totals, the rate so far and the time left. */
export function formatResyncProgress(progress: Readonly<ResyncProgress>, nowMs: number): string {
  const elapsedS = Math.max(0, (nowMs - progress.startedMs) / 1000);
  const rate = elapsedS > 0 ? progress.bytesDone / elapsedS : 0;
  const bytesLeft = Math.max(0, progress.bytesTotal - progress.bytesDone);
  const fraction = progress.bytesTotal > 0 ? progress.bytesDone / progress.bytesTotal : progress.versionsTotal > 0 ? progress.versionsDone / progress.versionsTotal : 1;
  const versionsLeft = progress.versionsTotal - progress.versionsDone;
  const left = versionsLeft <= 0 ? 0 : rate > 0 && bytesLeft > 0 ? bytesLeft / rate : null;
  return (
    `${progressBar(fraction)} ${progress.versionsDone}/${progress.versionsTotal} versions, ` +
    `${mib(progress.bytesDone)}/${mib(progress.bytesTotal)} MiB, ${mib(rate)} MiB/s, ${timeLeft(left)}` +
    (progress.failed > 0 ? `, ${progress.failed} failed` : '')
  );
}

/** The closing line: what was sent, how fast, what was there already and what failed. */
export function formatResyncSummary(bucket: string, target: string, progress: Readonly<ResyncProgress>, nowMs: number): string {
  const seconds = Math.max(0, (nowMs - progress.startedMs) / 1000);
  const rate = seconds > 0 ? progress.sentBytes / seconds : 0;
  return (
    `resync ${bucket} -> ${target}: ${progress.sentVersions} versions (${mib(progress.sentBytes)} MiB) sent in ${seconds.toFixed(1)} s, ` +
    `${mib(rate)} MiB/s; ${progress.alreadyThere} already there; ${progress.failed} failed`
  );
}

function mib(bytes: number): string {
  return (bytes / MiB).toFixed(1);
}

/** `tessera admin replicate resync BUCKET --target NAME`: sends a bucket's existing versions the target lacks. */
export async function runReplicateCli(args: string[], env: Env, io: Io, resolveTarget: (config: string | undefined, data: string | undefined, env: Env) => Promise<AdminTarget>): Promise<number> {
  let flags: { config?: string | undefined; data?: string | undefined; target?: string | undefined; concurrency?: string | undefined };
  let bucket: string;
  let concurrency: number;
  try {
    const parsed = parseArgs({ args, options: OPTIONS, allowPositionals: true, strict: true });
    flags = parsed.values;
    const [verb, name, ...extra] = parsed.positionals;
    if (verb !== 'resync' || name === undefined || extra.length > 0) throw new Error(verb === undefined ? 'a replicate command is needed' : `unknown replicate command or arguments: ${parsed.positionals.join(' ')}`);
    if (flags.target === undefined) throw new Error('resync needs --target NAME');
    if (!TARGET_NAME.test(flags.target)) throw new Error(`invalid target name ${JSON.stringify(flags.target)}: 1-64 characters of A-Z a-z 0-9 _ -`);
    concurrency = Number(flags.concurrency ?? DEFAULT_CONCURRENCY);
    if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > MAX_CONCURRENCY) throw new Error(`--concurrency must be a whole number from 1 to ${MAX_CONCURRENCY}`);
    bucket = name;
  } catch (err) {
    io.stderr(`${(err as Error).message}\n${REPLICATE_USAGE}`);
    return 2;
  }
  const targetName = flags.target;
  let source: ReplicationSource | undefined;
  let remote: RemoteS3 | undefined;
  try {
    const cluster = await clusterOf(flags.config, flags.data, env, resolveTarget);
    const definition = await targetDefinition(cluster.admin, targetName);
    source = new ReplicationSource({ ring: cluster.ring, previousRing: cluster.previous, clusterSecret: cluster.admin.clusterSecret, erasure: cluster.erasure, masterKeys: cluster.masterKeys, logger: silentLogger() });
    const signal = io.signal ?? new AbortController().signal;
    // Every node call and remote request of the run listens to it, up to --concurrency keys at a time.
    setMaxListeners(0, signal);
    const record = await source.bucket(bucket, signal).catch((err: unknown) => {
      throw (err as { code?: unknown }).code === 'NoSuchBucket' ? new UsageError(`no bucket ${bucket}`) : err;
    });
    const configuration = record.replication;
    if (configuration === undefined) throw new UsageError(`bucket ${bucket} has no replication configuration`);
    // The rules name the target by ARN, Tessera's or MinIO's spelling, with the bucket it writes to.
    const arns = new Set(
      configuration.rules
        .filter((rule) => rule.enabled)
        .map((rule) => rule.destination.arn)
        .filter((arn) => {
          const named = parseReplicationArn(arn, cluster.region);
          return named !== undefined && named.name === targetName && named.bucket === definition.bucket;
        }),
    );
    if (arns.size === 0) throw new UsageError(`no enabled replication rule of bucket ${bucket} has target ${targetName} (bucket ${definition.bucket}) as its destination`);
    remote = new RemoteS3(definition);
    const progress = await withProgressLine(io, (onProgress) => resyncBucket({ source: source as ReplicationSource, remote: remote as RemoteS3, bucket, selection: new ResyncSelection(configuration, arns), concurrency, signal, onProgress }));
    io.stdout(`${formatResyncSummary(bucket, targetName, progress, Date.now())}\n`);
    return progress.failed > 0 ? 1 : 0;
  } catch (err) {
    io.stderr(`tessera admin replicate resync: ${(err as Error).message}\n`);
    return err instanceof UsageError ? 2 : 1;
  } finally {
    remote?.close();
    await source?.close();
  }
}

/** Runs `work`, drawing its progress: one line redrawn twice a second on a terminal, a line every few seconds otherwise. */
async function withProgressLine(io: Io, work: (onProgress: (progress: Readonly<ResyncProgress>) => void) => Promise<ResyncProgress>): Promise<ResyncProgress> {
  const terminal = io.isTerminal ?? process.stdout.isTTY === true;
  let latest: Readonly<ResyncProgress> | undefined;
  let drawn = false;
  const draw = (): void => {
    if (latest === undefined) return;
    const line = formatResyncProgress(latest, Date.now());
    io.stdout(terminal ? `\r${line}\x1b[K` : `${line}\n`);
    drawn = true;
  };
  const timer = setInterval(draw, terminal ? TERMINAL_EVERY_MS : LOG_EVERY_MS);
  timer.unref();
  try {
    return await work((progress) => {
      // The first figures (the counting pass's totals) are shown at once.
      if (latest === undefined) {
        latest = progress;
        draw();
      }
      latest = progress;
    });
  } finally {
    clearInterval(timer);
    if (latest !== undefined) draw();
    if (terminal && drawn) io.stdout('\n');
  }
}

/** What reading the cluster needs: its nodes and secret, its newest ring, the erasure layout, the SSE-S3 master keys and the region. */
export interface SourceCluster {
  admin: AdminTarget;
  ring: Ring;
  previous: Ring | undefined;
  erasure: { dataShards: number; parityShards: number };
  masterKeys: Awaited<ReturnType<typeof readMasterKeyFile>> | undefined;
  region: string;
}

/** The cluster of --config (a gateway configuration), else the embedded cluster of --data (as `tessera dev` runs it). */
export async function clusterOf(configPath: string | undefined, dataDir: string | undefined, env: Env, resolveTarget: (config: string | undefined, data: string | undefined, env: Env) => Promise<AdminTarget>): Promise<SourceCluster> {
  const admin = await resolveTarget(configPath, dataDir, env);
  let erasure: SourceCluster['erasure'];
  let keyFile: string | undefined;
  let region: string;
  if (configPath !== undefined) {
    const config = gatewayConfigFrom(await readConfigFile(configPath), env);
    erasure = { dataShards: config.erasure.dataShards, parityShards: config.erasure.parityShards };
    keyFile = config.sseMasterKeyFile;
    region = config.region;
  } else {
    // As `tessera dev` sets its gateway and nodes up (roles.ts).
    const settings = GatewaySettings.properties;
    const erasureSettings = settings.erasure.properties;
    erasure = {
      dataShards: Number(env[erasureSettings.dataShards.env] ?? DEFAULTS.dataShards),
      parityShards: Number(env[erasureSettings.parityShards.env] ?? DEFAULTS.parityShards),
    };
    const devKeys = join(resolve(dataDir ?? env[NodeSettings.properties.dataDir.env] ?? DEFAULTS.devDataDir), 'sse-master-keys');
    keyFile = await access(devKeys).then(
      () => devKeys,
      () => undefined,
    );
    region = env[settings.region.env] ?? DEFAULTS.region;
  }
  const masterKeys = keyFile === undefined ? undefined : await readMasterKeyFile(keyFile);
  return { admin, ...(await newestRings(admin)), erasure, masterKeys, region };
}

/**
 * The ring of the highest epoch the nodes hold, and the newest ring before it that a node still holds
 * as its previous one: during a rebalance a key not moved yet is read from its previous set.
 */
async function newestRings(admin: AdminTarget): Promise<{ ring: Ring; previous: Ring | undefined }> {
  const clients = admin.nodes.map((node) => new NodeClient({ nodeId: node.id, address: node.address, clusterSecret: admin.clusterSecret, connections: 1 }));
  const newestOf = async (fetch: (client: NodeClient) => Promise<unknown>, below: number): Promise<Ring | undefined> => {
    const answers = await Promise.allSettled(clients.map(fetch));
    let newest: Ring | undefined;
    for (const answer of answers) {
      if (answer.status !== 'fulfilled' || answer.value === null) continue;
      const ring = parseRing(answer.value);
      if (ring.epoch < below && (newest === undefined || ring.epoch > newest.epoch)) newest = ring;
    }
    return newest;
  };
  try {
    const ring = await newestOf((client) => client.fetchRing({ signal: AbortSignal.timeout(NODE_TIMEOUT_MS) }), Infinity);
    if (ring === undefined) throw new Error('no node answered with a ring');
    const previous = await newestOf((client) => client.fetchPreviousRing({ signal: AbortSignal.timeout(NODE_TIMEOUT_MS) }), ring.epoch);
    return { ring, previous };
  } finally {
    await Promise.all(clients.map((client) => client.close()));
  }
}

/** The definition of replication target `name`, read from a majority of the nodes; a UsageError when there is no such s3 target. */
async function targetDefinition(admin: AdminTarget, name: string): Promise<S3TargetDefinition> {
  const clients = admin.nodes.map((node) => new NodeClient({ nodeId: node.id, address: node.address, clusterSecret: admin.clusterSecret, connections: 1 }));
  try {
    const record = (await readUserRecords(clients, NODE_TIMEOUT_MS)).get(TARGET_RECORD_PREFIX + name);
    if (record === undefined || record.deleted || record.target === undefined) throw new UsageError(`no target ${name} (see tessera admin target list)`);
    const definition = parseDefinedTarget(record.target);
    if (definition.type !== 's3') throw new UsageError(`target ${name} is a ${definition.type} target, not a replication (s3) target`);
    return definition;
  } finally {
    await Promise.all(clients.map((client) => client.close()));
  }
}
