import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { Env } from '../common/index.js';
import { parseRing } from '../placement/index.js';
import { gatewayConfigFrom, readConfigFile } from './config-files.js';
import { NodeClient, type NodeWorkStatus } from '../rpc/index.js';

/** Where `tessera admin` sends its requests: each node's id and address, and the cluster secret that signs them. */
export interface AdminTarget {
  nodes: { id: string; address: string }[];
  clusterSecret: string;
}

const USAGE = `usage: tessera admin <status|scrub> [--config FILE | --data DIR] [--fast] [--json]

  status   per node: scrub progress and rate, shards verified, checksum failures, repairs done and
           pending, rebalance progress and time left, objects below full redundancy, garbage collected
  scrub    start a full scrub (and audit) pass on every node now; --fast lifts the rate limit for it

Nodes come from --config (a gateway configuration: its nodes, ring file or seeds, and cluster secret),
or by default from the embedded cluster of \`tessera dev\`: DIR/cluster.json and DIR/cluster-secret
(DIR: --data, TESSERA_DATA_DIR or ./data).
`;

/** `tessera admin status|scrub`. */
export async function runAdminCli(args: string[], env: Env, io: { stdout(s: string): void; stderr(s: string): void }): Promise<number> {
  const [command, ...rest] = args;
  if (command !== 'status' && command !== 'scrub') {
    io.stderr(USAGE);
    return 2;
  }
  let values: { config?: string | undefined; data?: string | undefined; fast?: boolean | undefined; json?: boolean | undefined };
  try {
    values = parseArgs({
      args: rest,
      options: { config: { type: 'string' }, data: { type: 'string' }, fast: { type: 'boolean' }, json: { type: 'boolean' } },
      strict: true,
    }).values;
  } catch (err) {
    io.stderr(`${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  let target: AdminTarget;
  try {
    target = await resolveTarget(values.config, values.data, env);
  } catch (err) {
    io.stderr(`tessera admin: ${(err as Error).message}\n`);
    return 1;
  }
  const clients = target.nodes.map((node) => new NodeClient({ nodeId: node.id, address: node.address, clusterSecret: target.clusterSecret, connections: 1 }));
  try {
    const answers = await Promise.allSettled(
      clients.map(async (client) => {
        const signal = AbortSignal.timeout(10_000);
        if (command === 'scrub') await client.startScrub(values.fast === true, { signal });
        return client.workStatus({ signal });
      }),
    );
    let failed = 0;
    const rows: (NodeWorkStatus | { nodeId: string; error: string })[] = answers.map((answer, i) => {
      if (answer.status === 'fulfilled') return answer.value;
      failed += 1;
      return { nodeId: target.nodes[i]?.id ?? '?', error: (answer.reason as Error).message };
    });
    if (values.json === true) io.stdout(`${JSON.stringify(rows, null, 2)}\n`);
    else {
      if (command === 'scrub') io.stdout(`scrub pass started on ${rows.length - failed} of ${rows.length} nodes${values.fast === true ? ' (fast: no rate limit)' : ''}\n`);
      io.stdout(formatStatus(rows));
    }
    return failed === 0 ? 0 : 1;
  } finally {
    await Promise.all(clients.map((client) => client.close()));
  }
}

/** The nodes and secret of the cluster: a gateway config, else the embedded cluster's files. */
export async function resolveTarget(configPath: string | undefined, dataDir: string | undefined, env: Env): Promise<AdminTarget> {
  if (configPath !== undefined) {
    const config = gatewayConfigFrom(await readConfigFile(configPath), env);
    if (config.nodes.length > 0) return { nodes: config.nodes.map((n) => ({ id: n.id, address: n.address })), clusterSecret: config.clusterSecret };
    if (config.ringFile !== undefined) return { nodes: parseRing(await readFile(config.ringFile, 'utf8')).nodes.map((n) => ({ id: n.id, address: n.address })), clusterSecret: config.clusterSecret };
    const nodes = await nodesFromSeeds(config.seeds, config.clusterSecret);
    return { nodes, clusterSecret: config.clusterSecret };
  }
  const dir = resolve(dataDir ?? env['TESSERA_DATA_DIR'] ?? './data');
  let document: unknown;
  try {
    document = JSON.parse(await readFile(join(dir, 'cluster.json'), 'utf8'));
  } catch (err) {
    throw new Error(`no embedded cluster at ${dir} (${(err as Error).message}); run \`tessera dev\` or pass --config`);
  }
  const nodes = (document as { nodes?: unknown }).nodes;
  if (!Array.isArray(nodes) || !nodes.every((n) => typeof (n as { id?: unknown }).id === 'string' && typeof (n as { address?: unknown }).address === 'string')) {
    throw new Error(`${join(dir, 'cluster.json')}: expected {"nodes": [{"id", "address"}, ...]}`);
  }
  const clusterSecret = (await readFile(join(dir, 'cluster-secret'), 'utf8')).trim();
  return { nodes: nodes as { id: string; address: string }[], clusterSecret };
}

async function nodesFromSeeds(seeds: readonly string[], clusterSecret: string): Promise<{ id: string; address: string }[]> {
  for (const address of seeds) {
    const client = new NodeClient({ nodeId: address, address, clusterSecret, connections: 1 });
    try {
      const ring = (await client.fetchRing({ signal: AbortSignal.timeout(5_000) })) as { nodes?: { id: string; address: string }[] } | null;
      if (ring?.nodes !== undefined) return ring.nodes.map((n) => ({ id: n.id, address: n.address }));
    } catch {
      // Try the next seed.
    } finally {
      await client.close();
    }
  }
  throw new Error('no seed node answered with a ring');
}

type Figures = Record<string, Record<string, number | null | boolean>>;

/** One block per node, the figures `tessera admin status` shows. */
export function formatStatus(rows: readonly (NodeWorkStatus | { nodeId: string; error: string })[]): string {
  const lines: string[] = [];
  for (const row of rows) {
    if ('error' in row) {
      lines.push(`${row.nodeId}: unreachable (${row.error})`);
      continue;
    }
    const f = row.figures as unknown as Figures;
    const scrub = f['scrub'] ?? {};
    const repair = f['repair'] ?? {};
    const audit = f['audit'] ?? {};
    const rebalance = f['rebalance'] ?? {};
    const gc = f['gc'] ?? {};
    const gcRunner = (row.workers['gc'] ?? {}) as { worker?: { enabled?: boolean } };
    const scrubRunner = (row.workers['scrub'] ?? {}) as { bytesPerSecond?: number };
    const rebalanceRunner = (row.workers['rebalance'] ?? {}) as { worker?: { enabled?: boolean } };
    const pct = (x: unknown): string => `${Math.round(Number(x ?? 0) * 100)}%`;
    const mb = (x: unknown): string => `${(Number(x ?? 0) / 1e6).toFixed(1)} MB`;
    const eta = rebalance['etaSeconds'];
    lines.push(
      `${row.nodeId} (ring epoch ${row.ringEpoch})`,
      `  scrub      pass ${Number(scrub['passes'] ?? 0) + 1} ${pct(scrub['progress'])} (${scrub['keysScanned'] ?? 0}/${scrub['keysTotal'] ?? 0} keys), ${mb(scrubRunner.bytesPerSecond)}/s; ` +
        `shards verified ${scrub['shardsVerified'] ?? 0} (${mb(scrub['bytesVerified'])}), checksum failures ${scrub['checksumFailures'] ?? 0}, missing ${scrub['missingShards'] ?? 0}`,
      `  repair     done ${repair['done'] ?? 0}, pending ${repair['pending'] ?? 0}, failed attempts ${repair['failed'] ?? 0}, quarantined ${row.quarantinedShards}; ` +
        `rebuilt ${repair['shardsRebuilt'] ?? 0} shards, ${mb(repair['bytesRebuilt'])} at ${Number(repair['mbPerSecond'] ?? 0).toFixed(1)} MB/s`,
      `  audit      passes ${audit['passes'] ?? 0}, objects below full redundancy ${audit['belowFullRedundancy'] ?? 0}`,
      rebalanceRunner.worker?.enabled === false
        ? '  rebalance  off (healing.rebalance / TESSERA_REBALANCE)'
        : `  rebalance  ${rebalance['done'] === true ? 'idle' : `${pct(rebalance['progress'])}, ETA ${eta === null || eta === undefined ? '?' : `${Math.ceil(Number(eta))} s`}`}; ` +
          `moved ${rebalance['moved'] ?? 0} (${mb(rebalance['bytesMoved'])}), pending ${rebalance['pending'] ?? 0}`,
      gcRunner.worker?.enabled === false
        ? '  gc         off (healing.gc / TESSERA_GC)'
        : `  gc         passes ${gc['passes'] ?? 0}; tombstones dropped ${gc['tombstonesDropped'] ?? 0} (kept at last pass ${gc['tombstonesKept'] ?? 0}), ` +
          `uploads aborted ${gc['uploadsAborted'] ?? 0}, parts dropped ${gc['partsDropped'] ?? 0}, orphan files ${gc['orphanFilesRemoved'] ?? 0}, ` +
          `temporary files ${gc['tmpFilesRemoved'] ?? 0}; freed ${mb(gc['bytesFreed'])}`,
    );
  }
  return `${lines.join('\n')}\n`;
}
