import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULTS, NodeSettings, type Env } from '../common/index.js';
import { parseRing } from '../placement/index.js';
import { gatewayConfigFrom, readConfigFile } from './config-files.js';
import { NodeClient, type NodeWorkStatus } from '../rpc/index.js';
import { runUserCli } from './user-cli.js';

/** Where `tessera admin` sends its requests: each node's id and address, and the cluster secret that signs them. */
export interface AdminTarget {
  nodes: { id: string; address: string }[];
  clusterSecret: string;
}

const USAGE = `usage: tessera admin <status|scrub> [--config FILE | --data DIR] [--fast] [--json]
       tessera admin user add|list|remove [NAME]; tessera admin key add NAME | remove KEYID
       tessera admin policy set NAME FILE | attach USER NAME | detach USER NAME | list

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
  if (command === 'user' || command === 'key' || command === 'policy') return runUserCli(command, rest, env, io);
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
  const dir = resolve(dataDir ?? env[NodeSettings.properties.dataDir.env] ?? DEFAULTS.devDataDir);
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
      const document = await client.fetchRing({ signal: AbortSignal.timeout(5_000) });
      if (document !== null) return parseRing(document).nodes.map((n) => ({ id: n.id, address: n.address }));
    } catch {
      // Try the next seed.
    } finally {
      await client.close();
    }
  }
  throw new Error('no seed node answered with a ring');
}

/** One block per node, the figures `tessera admin status` shows. */
export function formatStatus(rows: readonly (NodeWorkStatus | { nodeId: string; error: string })[]): string {
  const lines: string[] = [];
  const pct = (x: number): string => `${Math.round(x * 100)}%`;
  const mb = (x: number): string => `${(x / 1e6).toFixed(1)} MB`;
  for (const row of rows) {
    if ('error' in row) {
      lines.push(`${row.nodeId}: unreachable (${row.error})`);
      continue;
    }
    const { scrub, repair, audit, rebalance, gc } = row.figures;
    const { workers } = row;
    const eta = rebalance.etaSeconds;
    lines.push(
      `${row.nodeId} (ring epoch ${row.ringEpoch})`,
      `  scrub      pass ${scrub.passes + 1} ${pct(scrub.progress)} (${scrub.keysScanned}/${scrub.keysTotal} keys), ${mb(workers.scrub.bytesPerSecond ?? 0)}/s; ` +
        `shards verified ${scrub.shardsVerified} (${mb(scrub.bytesVerified)}), checksum failures ${scrub.checksumFailures}, missing ${scrub.missingShards}`,
      `  repair     done ${repair.done}, pending ${repair.pending}, failed attempts ${repair.failed}, quarantined ${row.quarantinedShards}; ` +
        `rebuilt ${repair.shardsRebuilt} shards, ${mb(repair.bytesRebuilt)} at ${repair.mbPerSecond.toFixed(1)} MB/s`,
      `  audit      passes ${audit.passes}, objects below full redundancy ${audit.belowFullRedundancy}`,
      workers.rebalance.worker['enabled'] === false
        ? '  rebalance  off (healing.rebalance / TESSERA_REBALANCE)'
        : `  rebalance  ${rebalance.done ? 'idle' : `${pct(rebalance.progress)}, ETA ${eta === null ? '?' : `${Math.ceil(eta)} s`}`}; ` +
          `moved ${rebalance.moved} (${mb(rebalance.bytesMoved)}), pending ${rebalance.pending}`,
      workers.gc.worker['enabled'] === false
        ? '  gc         off (healing.gc / TESSERA_GC)'
        : `  gc         passes ${gc.passes}; tombstones dropped ${gc.tombstonesDropped} (kept at last pass ${gc.tombstonesKept}), ` +
          `uploads aborted ${gc.uploadsAborted}, parts dropped ${gc.partsDropped}, orphan files ${gc.orphanFilesRemoved}, ` +
          `temporary files ${gc.tmpFilesRemoved}; freed ${mb(gc.bytesFreed)}`,
    );
  }
  return `${lines.join('\n')}\n`;
}
