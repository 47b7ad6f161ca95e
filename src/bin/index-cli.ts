import { setMaxListeners } from 'node:events';
import { parseArgs } from 'node:util';
import { DEFAULTS, silentLogger, type Env } from '../common/index.js';
import { buildIndex, ReplicationSource, type IndexBuildProgress } from '../gateway/index.js';
import type { AdminTarget } from './admin-cli.js';
import { gatewayConfigFrom, readConfigFile } from './config-files.js';
import { INDEX_USAGE } from './help.js';
import { clusterOf } from './replicate-cli.js';

/** Added to the gateways' bucket-cache lifetime before the walk: the longest a commit sent under an older bucket record may still run. */
const COMMIT_GRACE_MS = 30_000;
/** How often progress is printed. */
const PROGRESS_EVERY_MS = 5_000;

type Io = { stdout(s: string): void; stderr(s: string): void; signal?: AbortSignal };

const OPTIONS = {
  config: { type: 'string' },
  data: { type: 'string' },
  'wait-ms': { type: 'string' },
} as const;

/** One line of a build's progress. */
export function formatIndexBuild(progress: Readonly<IndexBuildProgress>, nowMs: number): string {
  if (progress.alreadyIndexed) return `index ${progress.bucket}: already indexed, nothing to do`;
  const seconds = Math.max(0, (nowMs - progress.startedMs) / 1000).toFixed(1);
  return `index ${progress.bucket}: ${progress.phase}, ${progress.objectVersions} object versions and ${progress.uploadVersions} upload records copied, ${seconds} s`;
}

/**
 * `tessera admin index build BUCKET`: builds the bucket index of a bucket created before it existed
 * (and its multipart uploads' index) while the bucket stays in use; listings read it once it is done.
 */
export async function runIndexCli(args: string[], env: Env, io: Io, resolveTarget: (config: string | undefined, data: string | undefined, env: Env) => Promise<AdminTarget>): Promise<number> {
  let flags: { config?: string | undefined; data?: string | undefined; 'wait-ms'?: string | undefined };
  let bucket: string;
  try {
    const parsed = parseArgs({ args, options: OPTIONS, allowPositionals: true, strict: true });
    flags = parsed.values;
    const [verb, name, ...extra] = parsed.positionals;
    if (verb !== 'build' || name === undefined || extra.length > 0) throw new Error(verb === undefined ? 'an index command is needed' : `unknown index command or arguments: ${parsed.positionals.join(' ')}`);
    if (flags['wait-ms'] !== undefined && !/^\d{1,7}$/.test(flags['wait-ms'])) throw new Error('--wait-ms must be a whole number of milliseconds');
    bucket = name;
  } catch (err) {
    io.stderr(`${(err as Error).message}\n${INDEX_USAGE}`);
    return 2;
  }
  let source: ReplicationSource | undefined;
  try {
    const cluster = await clusterOf(flags.config, flags.data, env, resolveTarget);
    const cacheTtlMs = flags.config === undefined ? DEFAULTS.bucketCacheTtlMs : gatewayConfigFrom(await readConfigFile(flags.config), env).bucketCacheTtlMs;
    const settleWaitMs = flags['wait-ms'] === undefined ? cacheTtlMs + COMMIT_GRACE_MS : Number(flags['wait-ms']);
    source = new ReplicationSource({ ring: cluster.ring, previousRing: cluster.previous, clusterSecret: cluster.admin.clusterSecret, erasure: cluster.erasure, logger: silentLogger() });
    const signal = io.signal ?? new AbortController().signal;
    setMaxListeners(0, signal);
    let latest: IndexBuildProgress | undefined;
    const timer = setInterval(() => latest !== undefined && io.stdout(`${formatIndexBuild(latest, Date.now())}\n`), PROGRESS_EVERY_MS);
    timer.unref();
    try {
      const progress = await buildIndex(source.listPath(), bucket, { signal, settleWaitMs, onProgress: (p) => (latest = p) });
      io.stdout(`${formatIndexBuild(progress, Date.now())}\n`);
    } finally {
      clearInterval(timer);
    }
    return 0;
  } catch (err) {
    io.stderr(`tessera admin index build: ${(err as Error).message}\n`);
    return (err as { code?: unknown }).code === 'NoSuchBucket' ? 2 : 1;
  } finally {
    await source?.close();
  }
}
