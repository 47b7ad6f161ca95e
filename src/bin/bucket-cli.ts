import { setMaxListeners } from 'node:events';
import { parseArgs } from 'node:util';
import { HybridClock, type Env } from '../common/index.js';
import { BucketService, bucketQuota, ClusterView, type QuotaReport } from '../gateway/index.js';
import type { BucketQuota } from '../rpc/index.js';
import type { AdminTarget } from './admin-cli.js';
import { adminApiClientFrom, API_CLIENT_OPTIONS } from './admin-api-client.js';
import { BUCKET_USAGE } from './help.js';
import { clusterOf } from './replicate-cli.js';

type Io = { stdout(s: string): void; stderr(s: string): void; signal?: AbortSignal };

/** Longest wait for one node's answer. */
const NODE_TIMEOUT_MS = 10_000;
/** Longest a whole command may take. */
const COMMAND_TIMEOUT_MS = 120_000;

const OPTIONS = {
  config: { type: 'string' },
  data: { type: 'string' },
  json: { type: 'boolean' },
  'max-bytes': { type: 'string' },
  'max-objects': { type: 'string' },
  clear: { type: 'boolean' },
  ...API_CLIENT_OPTIONS,
} as const;

/** A limit as given: a whole number of at least 0, within what a record can hold exactly. */
function limitOf(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d{1,16}$/.test(value) || !Number.isSafeInteger(Number(value))) throw new Error(`${flag} must be a whole number of at least 0`);
  return Number(value);
}

/** One bucket's quota and usage, as `--json` prints them (and the admin API answers). */
export type { QuotaReport };

/** The lines `tessera admin bucket quota` prints. */
export function formatQuota(report: QuotaReport): string {
  const { quota, usage } = report;
  const limit = (value: number | undefined, unit: string): string => (value === undefined ? 'no limit' : `${value} ${unit}`);
  const lines = [
    `bucket ${report.bucket}`,
    `  quota: ${quota === null ? 'none' : `${limit(quota.maxBytes, 'bytes')}, ${limit(quota.maxObjects, 'objects')}`}`,
    `  usage: ${usage.bytes} bytes, ${usage.objects} objects${usage.complete ? '' : ' (estimated: not every node answered)'}`,
  ];
  return `${lines.join('\n')}\n`;
}

/**
 * `tessera admin bucket quota BUCKET [--max-bytes N] [--max-objects N] [--clear]`: sets or clears a
 * bucket's hard quota (kept in its bucket record, so every gateway follows it within its bucket cache
 * lifetime), and shows the quota and the usage the nodes count. Through a gateway's admin API with
 * `--endpoint URL`, else straight to the nodes; both run bucketQuota.
 */
export async function runBucketCli(args: string[], env: Env, io: Io, resolveTarget: (config: string | undefined, data: string | undefined, env: Env) => Promise<AdminTarget>): Promise<number> {
  let flags: { [K in keyof typeof OPTIONS]?: (typeof OPTIONS)[K]['type'] extends 'boolean' ? boolean | undefined : string | undefined };
  let bucket: string;
  let change: BucketQuota | null | undefined;
  try {
    const parsed = parseArgs({ args, options: OPTIONS, allowPositionals: true, strict: true });
    flags = parsed.values;
    const [verb, name, ...extra] = parsed.positionals;
    if (verb !== 'quota' || name === undefined || extra.length > 0) throw new Error(verb === undefined ? 'a bucket command is needed' : `unknown bucket command or arguments: ${parsed.positionals.join(' ')}`);
    const maxBytes = limitOf('--max-bytes', parsed.values['max-bytes']);
    const maxObjects = limitOf('--max-objects', parsed.values['max-objects']);
    if (flags.clear === true && (maxBytes !== undefined || maxObjects !== undefined)) throw new Error('--clear takes no limits');
    if (flags.endpoint !== undefined && (flags.config !== undefined || flags.data !== undefined)) throw new Error('--endpoint goes to a gateway; --config and --data to the nodes: give one');
    change = flags.clear === true ? null : maxBytes === undefined && maxObjects === undefined ? undefined : { ...(maxBytes === undefined ? {} : { maxBytes }), ...(maxObjects === undefined ? {} : { maxObjects }) };
    bucket = name;
  } catch (err) {
    io.stderr(`${(err as Error).message}\n${BUCKET_USAGE}`);
    return 2;
  }
  let cluster: ClusterView | undefined;
  try {
    if (flags.endpoint !== undefined) {
      const report = await adminApiClientFrom(flags, env).bucketQuota(bucket, change);
      io.stdout(flags.json === true ? `${JSON.stringify(report, null, 2)}\n` : formatQuota(report));
      return 0;
    }
    const { ring, admin } = await clusterOf(flags.config, flags.data, env, resolveTarget);
    cluster = new ClusterView(ring, { clusterSecret: admin.clusterSecret, connectionsPerNode: 1 });
    const buckets = new BucketService({ cluster, clock: new HybridClock(), cacheTtlMs: 1, nodeTimeoutMs: NODE_TIMEOUT_MS });
    const signal = AbortSignal.any([io.signal ?? new AbortController().signal, AbortSignal.timeout(COMMAND_TIMEOUT_MS)]);
    // Every node call of the command listens to it.
    setMaxListeners(0, signal);
    const report = await bucketQuota(buckets, bucket, change, signal);
    io.stdout(flags.json === true ? `${JSON.stringify(report, null, 2)}\n` : formatQuota(report));
    return 0;
  } catch (err) {
    io.stderr(`tessera admin bucket quota: ${(err as Error).message}\n`);
    return (err as { code?: unknown }).code === 'NoSuchBucket' ? 2 : 1;
  } finally {
    for (const node of cluster?.allNodes() ?? []) await node.close();
  }
}
