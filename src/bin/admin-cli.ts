import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULTS, GatewaySettings, HybridClock, NodeSettings, readSecretFile, type Env } from '../common/index.js';
import { parseRing } from '../placement/index.js';
import { ObjectSealer, nodePackageCipher, readNodeStatuses, type NodeStatusRow, readMasterKeyFile, resealKmsKeyMaterial, rotateMasterKey, type MasterKeyring } from '../gateway/index.js';
import { gatewayConfigFrom, readConfigFile } from './config-files.js';
import { KMS_KEY_RECORD_PREFIX, NodeClient, readUserRecords, writeUserRecord, type NodeWorkStatus } from '../rpc/index.js';
import { formatObjectReport, inspectObject, type ObjectReport } from './admin-object.js';
import { runUserCli } from './user-cli.js';
import { adminApiClientFrom, API_CLIENT_OPTIONS, type AdminApiClient } from './admin-api-client.js';
import { runTargetCli } from './target-cli.js';
import { runIndexCli } from './index-cli.js';
import { runBucketCli } from './bucket-cli.js';
import { runKmsKeyCli } from './kms-key-cli.js';
import { runReplicateCli } from './replicate-cli.js';
import { progressBar, timeLeft } from './progress-text.js';
import { ADMIN_USAGE, KMS_USAGE } from './help.js';
import { LIVE_DEFAULTS, erasureLayout, formatLiveState, readLiveState, type LiveLayout } from './live-durability.js';

/** Where `tessera admin` sends its requests: each node's id and address, and the cluster secret that signs them. */
export interface AdminTarget {
  nodes: { id: string; address: string }[];
  clusterSecret: string;
}

/** The master key file and region of the gateway configuration `--config` names, or of the embedded cluster in `--data`. */
async function keySettings(config: string | undefined, data: string | undefined, env: Env): Promise<{ masterKeyFile: string | undefined; region: string }> {
  if (config !== undefined) {
    const gateway = gatewayConfigFrom(await readConfigFile(config), env);
    return { masterKeyFile: gateway.sseMasterKeyFile, region: gateway.region };
  }
  return {
    masterKeyFile: join(resolve(data ?? env[NodeSettings.properties.dataDir.env] ?? DEFAULTS.devDataDir), 'sse-master-keys'),
    region: env[GatewaySettings.properties.region.env] ?? DEFAULTS.region,
  };
}

/** \`tessera admin kms rotate\`: master-key rotation over every node; \`kms key ...\`: the named SSE-KMS keys. */
async function runKmsCli(args: string[], env: Env, io: { stdout(s: string): void; stderr(s: string): void }): Promise<number> {
  const [command, ...rest] = args;
  if (command === 'key') return runKmsKeyCli(rest, env, io, { resolveTarget, keySettings });
  let values: { config?: string | undefined; data?: string | undefined; json?: boolean | undefined };
  try {
    if (command !== 'rotate') throw new Error(`unknown kms command: ${command ?? '(none)'}`);
    values = parseArgs({ args: rest, options: { config: { type: 'string' }, data: { type: 'string' }, json: { type: 'boolean' } }, strict: true }).values;
  } catch (err) {
    io.stderr(`${(err as Error).message}\n${KMS_USAGE}`);
    return 2;
  }
  let target: AdminTarget;
  let keyFile: string | undefined;
  try {
    target = await resolveTarget(values.config, values.data, env);
    keyFile = (await keySettings(values.config, values.data, env)).masterKeyFile;
    if (keyFile === undefined) throw new Error('the configuration names no sseMasterKeyFile');
  } catch (err) {
    io.stderr(`tessera admin kms: ${(err as Error).message}\n`);
    return 1;
  }
  const clients = target.nodes.map((node) => new NodeClient({ nodeId: node.id, address: node.address, clusterSecret: target.clusterSecret, connections: 1 }));
  try {
    // Rotation re-seals data keys only; no body passes through the package cipher.
    const masterKeys = await readMasterKeyFile(keyFile);
    const sealer = new ObjectSealer({ masterKeys, cipher: nodePackageCipher() });
    const report = await rotateMasterKey(clients, sealer, AbortSignal.timeout(24 * 3600 * 1000));
    const kmsKeys = await resealKmsKeys(clients, masterKeys);
    const masterKeyId = sealer.currentMasterKeyId() ?? null;
    io.stdout(
      values.json === true
        ? `${JSON.stringify({ masterKeyId, resealed: report.resealed, examined: report.examined, changed: report.changed, kmsKeysResealed: kmsKeys, nodes: clients.length }, null, 2)}\n`
        : `master key ${masterKeyId ?? '?'}: ${report.resealed} data keys re-sealed, ${kmsKeys} KMS keys re-sealed, ${report.examined} records examined on ${clients.length} nodes, ${report.changed} changed meanwhile\n`,
    );
    return 0;
  } catch (err) {
    io.stderr(`tessera admin kms rotate: ${(err as Error).message}\n`);
    return 1;
  } finally {
    await Promise.all(clients.map((client) => client.close()));
  }
}

/** Re-seals every KMS key's root under the current master key (their versions' keys stay the same); returns how many changed. */
async function resealKmsKeys(clients: readonly NodeClient[], masterKeys: MasterKeyring): Promise<number> {
  const records = await readUserRecords(clients, 10_000);
  const clock = new HybridClock();
  for (const record of records.values()) clock.observe(record.versionId);
  let changed = 0;
  for (const record of records.values()) {
    if (record.deleted || !record.name.startsWith(KMS_KEY_RECORD_PREFIX) || record.kms === undefined) continue;
    const kms = resealKmsKeyMaterial(masterKeys, record.name.slice(KMS_KEY_RECORD_PREFIX.length), record.kms);
    if (kms === undefined) continue;
    await writeUserRecord(clients, { ...record, versionId: clock.next(), kms }, 10_000);
    changed += 1;
  }
  return changed;
}

/** Where `tessera admin` writes, and how it runs: `signal` ends a --watch or --wait loop (Ctrl-C by default). */
type AdminIo = { stdout(s: string): void; stderr(s: string): void; signal?: AbortSignal; isTerminal?: boolean };

/** The options of `tessera admin status|scrub|heal|object`. */
const ADMIN_OPTIONS = {
  config: { type: 'string' },
  data: { type: 'string' },
  fast: { type: 'boolean' },
  json: { type: 'boolean' },
  version: { type: 'string' },
  watch: { type: 'boolean' },
  wait: { type: 'boolean' },
  'interval-ms': { type: 'string' },
  afr: { type: 'string' },
  'disk-size': { type: 'string' },
  'repair-rate': { type: 'string' },
  ...API_CLIENT_OPTIONS,
} as const;

/** The options given, by name. */
type AdminFlags = {
  [K in keyof typeof ADMIN_OPTIONS]?: (typeof ADMIN_OPTIONS)[K]['type'] extends 'boolean' ? boolean | undefined : string | undefined;
};

/** The work commands: each reads every node's status, `scrub` and `heal` after starting a pass. */
type WorkCommand = 'status' | 'scrub' | 'heal';

/** `tessera admin status|scrub|heal|object|kms|user|key|policy|target|replicate|index|bucket`. */
export async function runAdminCli(args: string[], env: Env, io: AdminIo): Promise<number> {
  const [command, ...rest] = args;
  if (command === 'kms') return runKmsCli(rest, env, io);
  if (command === 'user' || command === 'key' || command === 'policy') return runUserCli(command, rest, env, io);
  if (command === 'target') return runTargetCli(rest, env, io, resolveTarget);
  if (command === 'replicate') return runReplicateCli(rest, env, io, resolveTarget);
  if (command === 'index') return runIndexCli(rest, env, io, resolveTarget);
  if (command === 'bucket') return runBucketCli(rest, env, io, resolveTarget);
  if (command !== 'status' && command !== 'scrub' && command !== 'object' && command !== 'heal') {
    io.stderr(ADMIN_USAGE);
    return 2;
  }
  let values: AdminFlags;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args: rest, options: ADMIN_OPTIONS, strict: true, allowPositionals: command === 'object' }));
    if (command === 'object' && positionals.length !== 2) throw new Error('object needs BUCKET and KEY');
    const interval = Number(values['interval-ms'] ?? 2_000);
    if (!Number.isInteger(interval) || interval < 10) throw new Error('--interval-ms must be a whole number of at least 10');
    assumptions(values);
  } catch (err) {
    io.stderr(`${(err as Error).message}\n${ADMIN_USAGE}`);
    return 2;
  }
  if (values.endpoint !== undefined) {
    if (command === 'object') return runObjectReportThroughApi(positionals as [string, string], values, env, io);
    return runStatusThroughApi(command, values, env, io);
  }
  let target: AdminTarget;
  try {
    target = await resolveTarget(values.config, values.data, env);
  } catch (err) {
    io.stderr(`tessera admin: ${(err as Error).message}\n`);
    return 1;
  }
  if (command === 'object') return runObjectReport(target, positionals as [string, string], values, io);
  let layout: LiveLayout;
  try {
    layout = await erasureLayout(values.config, env);
  } catch (err) {
    io.stderr(`tessera admin: ${(err as Error).message}\n`);
    return 1;
  }
  return runWorkCommand(command, values, io, nodeStatusSource(target, values, layout));
}

/**
 * `tessera admin status|scrub|heal --endpoint URL`: every node's status through a gateway's admin API,
 * `scrub` and `heal` after starting a pass, `--watch` and `--wait` by asking again. The cluster's nines
 * need the nodes' own records, so that line is left to `--config`/`--data`.
 */
async function runStatusThroughApi(command: WorkCommand, values: AdminFlags, env: Env, io: AdminIo): Promise<number> {
  let client: AdminApiClient;
  try {
    if (values.config !== undefined || values.data !== undefined) throw new Error('--endpoint goes to a gateway; --config and --data to the nodes: give one');
    client = adminApiClientFrom(values, env);
  } catch (err) {
    io.stderr(`tessera admin: ${(err as Error).message}\n`);
    return 1;
  }
  return runWorkCommand(command, values, io, {
    read: async (startFast) => (startFast === undefined ? (await client.status()).nodes : (await client.startHeal(startFast)).nodes),
    ninesLine: async () => '',
    close: async () => undefined,
  });
}

/** A positive number option, below `max`; `fallback` when absent. */
function positiveOption(value: string | undefined, name: string, max: number, fallback: number): number {
  if (value === undefined) return fallback;
  const x = /^\d{1,7}(\.\d{1,6})?$/.test(value) ? Number(value) : Number.NaN;
  if (!(x > 0 && x < max)) throw new Error(`--${name} must be a number above 0 and below ${max}`);
  return x;
}

/** What status assumes where the cluster has no figure: --afr PCT, --disk-size TB, --repair-rate MB/s. */
function assumptions(values: AdminFlags): { afrPct: number; diskSizeTB: number; repairMBps: number } {
  return {
    afrPct: positiveOption(values.afr, 'afr', 100, LIVE_DEFAULTS.afrPct),
    diskSizeTB: positiveOption(values['disk-size'], 'disk-size', 1e6, LIVE_DEFAULTS.diskSizeTB),
    repairMBps: positiveOption(values['repair-rate'], 'repair-rate', 1e6, LIVE_DEFAULTS.repairMBps),
  };
}


/** `tessera admin object BUCKET KEY --endpoint URL`: the same report through a gateway's admin API (`GET objects?parts=true`). */
async function runObjectReportThroughApi([bucket, key]: [string, string], values: AdminFlags, env: Env, io: AdminIo): Promise<number> {
  try {
    if (values.config !== undefined || values.data !== undefined) throw new Error('--endpoint goes to a gateway; --config and --data to the nodes: give one');
    return printObjectReport(await adminApiClientFrom(values, env).objectReport(bucket, key, values.version), values, io);
  } catch (err) {
    io.stderr(`tessera admin: ${(err as Error).message}\n`);
    return 1;
  }
}

/** Prints an object report as JSON or text; exit 1 when there is no such object. */
function printObjectReport(report: ObjectReport, values: AdminFlags, io: AdminIo): number {
  io.stdout(values.json === true ? `${JSON.stringify(report, null, 2)}\n` : formatObjectReport(report));
  return report.versionId === null ? 1 : 0;
}

/** `tessera admin object BUCKET KEY`: where each shard of the object is; exit 1 when there is no such object. */
async function runObjectReport(target: AdminTarget, [bucket, key]: [string, string], values: AdminFlags, io: AdminIo): Promise<number> {
  try {
    return printObjectReport(await inspectObject(target, bucket, key, { versionId: values.version }), values, io);
  } catch (err) {
    io.stderr(`tessera admin: ${(err as Error).message}\n`);
    return 1;
  }
}

/** Where status, scrub and heal read every node's status: the nodes themselves, or a gateway's admin API. */
interface StatusSource {
  /** Every node's status; with `startFast` (true or false), after starting a scrub and repair pass. */
  read(startFast?: boolean): Promise<NodeStatusRow[]>;
  /** The cluster's nines under status, where this source can work them out ('' where not). */
  ninesLine(rows: readonly NodeStatusRow[]): Promise<string>;
  close(): Promise<void>;
}

/** The statuses straight from the nodes, and the nines from their records. */
function nodeStatusSource(target: AdminTarget, values: AdminFlags, layout: LiveLayout): StatusSource {
  const clients = target.nodes.map((node) => new NodeClient({ nodeId: node.id, address: node.address, clusterSecret: target.clusterSecret, connections: 1 }));
  return {
    read: (startFast) => readNodeStatuses(clients, { timeoutMs: 10_000, startFast }),
    ninesLine: (rows) => ninesLine(clients, rows, layout, values),
    close: async () => void (await Promise.all(clients.map((client) => client.close()))),
  };
}

/** status (once, or --watch), scrub, and heal (once, or --wait until the pass has healed everything). */
async function runWorkCommand(command: WorkCommand, values: AdminFlags, io: AdminIo, source: StatusSource): Promise<number> {
  const everyMs = Number(values['interval-ms'] ?? 2_000);
  const waiting = command === 'heal' && values.wait === true;
  const watching = command === 'status' && values.watch === true;
  const signal = io.signal ?? (waiting || watching ? stopSignal() : new AbortController().signal);
  try {
    const startPass = command === 'scrub' || command === 'heal';
    // Pass counts before the start: a pass over a small node can end before the first status is read.
    const before = waiting ? await source.read() : [];
    const first = await source.read(startPass ? values.fast === true : undefined);
    if (startPass && values.json !== true) {
      const started = first.filter((row) => !('error' in row)).length;
      io.stdout(`${command === 'heal' ? 'heal' : 'scrub'} pass started on ${started} of ${first.length} nodes${values.fast === true ? ' (fast: no rate limit)' : ''}\n`);
    }
    const healed = healedSince(before, first);
    let rows = first;
    for (;;) {
      if (values.json === true) io.stdout(`${JSON.stringify(rows, null, watching || waiting ? 0 : 2)}\n`);
      else io.stdout(`${watching && io.isTerminal === true ? '\x1b[H\x1b[2J' : ''}${formatStatus(rows)}${command === 'status' ? await source.ninesLine(rows) : ''}`);
      if (waiting && healed(rows)) {
        if (values.json !== true) io.stdout('heal pass done: every node scrubbed, nothing left to repair\n');
        break;
      }
      if ((!watching && !waiting) || signal.aborted) break;
      await sleep(everyMs, undefined, { signal }).catch(() => undefined);
      if (signal.aborted) break;
      rows = await source.read();
    }
    if (waiting && !healed(rows)) return 1;
    return rows.some((row) => 'error' in row) ? 1 : 0;
  } catch (err) {
    io.stderr(`tessera admin: ${(err as Error).message}\n`);
    return 1;
  } finally {
    await source.close();
  }
}

/**
 * heal --wait's test, given the statuses read before and just after starting a pass: done once every
 * node has finished a scrub pass begun after the start, with no repair pending. A pass running at the
 * start may end first, so a node counts the requests each pass began after; a node too old to count
 * them is taken at its pass count.
 */
function healedSince(before: readonly NodeStatusRow[], first: readonly NodeStatusRow[]): (current: readonly NodeStatusRow[]) => boolean {
  const askedAtStart = new Map(first.map((row) => [row.nodeId, 'error' in row ? undefined : row.figures.scrub.asked]));
  const passesAtStart = new Map(before.map((row) => [row.nodeId, 'error' in row ? 0 : row.figures.scrub.passes]));
  const scrubbed = (row: NodeWorkStatus): boolean => {
    const asked = askedAtStart.get(row.nodeId);
    if (asked !== undefined && row.figures.scrub.lastPassAsked !== undefined) return row.figures.scrub.lastPassAsked >= asked;
    return row.figures.scrub.passes > (passesAtStart.get(row.nodeId) ?? 0);
  };
  return (current) => current.every((row) => !('error' in row) && scrubbed(row) && row.figures.repair.pending === 0);
}

/** Status's cluster line: the nines now from the live state (or why they could not be worked out). */
async function ninesLine(clients: readonly NodeClient[], rows: readonly NodeStatusRow[], layout: LiveLayout, values: AdminFlags): Promise<string> {
  const assumed = assumptions(values);
  try {
    const state = await readLiveState(clients, rows, layout, assumed, AbortSignal.timeout(10_000));
    return formatLiveState(state, assumed.afrPct);
  } catch (err) {
    return `cluster    nines not known: ${(err as Error).message}\n`;
  }
}

/** Aborted on Ctrl-C: ends `--watch` and `--wait` loops cleanly. */
function stopSignal(): AbortSignal {
  const controller = new AbortController();
  process.once('SIGINT', () => controller.abort());
  return controller.signal;
}

/** While repairs are pending: the backlog's progress bar (done against done + pending) and its time left at the current rate. */
function repairProgress(done: number, pending: number, perSecond: number): string {
  if (pending === 0) return '';
  return `${progressBar(done / (done + pending))} ${timeLeft(perSecond > 0 ? pending / perSecond : null)}; `;
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
  const clusterSecret = (await readSecretFile(join(dir, 'cluster-secret'), 'cluster secret file')).trim();
  return { nodes: nodes as { id: string; address: string }[], clusterSecret };
}

async function nodesFromSeeds(seeds: readonly string[], clusterSecret: string): Promise<{ id: string; address: string }[]> {
  for (const address of seeds) {
    const client = new NodeClient({ nodeId: address, idUnknown: true, address, clusterSecret, connections: 1 });
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
/** The lifecycle worker's line of `admin status` (a node that predates it reports nothing). */
function lifecycleLine(row: NodeWorkStatus): string {
  const figures = row.figures.lifecycle;
  if (row.workers.lifecycle?.worker['enabled'] === false) return '  lifecycle  off (healing.lifecycle / TESSERA_LIFECYCLE)';
  if (figures === undefined) return '  lifecycle  not reported';
  return (
    `  lifecycle  passes ${figures.passes}${figures.passStartedMs === null ? '' : ' (one running)'}, keys examined ${figures.keysScanned}; ` +
    `expired ${figures.expired}, noncurrent versions removed ${figures.noncurrentRemoved}, delete markers removed ${figures.markersRemoved}, uploads aborted ${figures.uploadsAborted}`
  );
}

/** The bucket index intent resolver's line of `admin status` (intent-resolver.ts). */
/** The index split worker's line: its passes, the splits it led, and the most keys it counted in one shard it leads. */
function splitsLine(row: NodeWorkStatus): string {
  const figures = row.workers.splits?.worker;
  if (figures === undefined) return '  splits     not reported';
  return `  splits     passes ${figures['passes'] ?? 0}; index shards split ${figures['splitsDone'] ?? 0} (started ${figures['splitsStarted'] ?? 0}), rows copied ${figures['rowsCopied'] ?? 0}, largest shard led ${figures['largestShardKeys'] ?? 0} keys`;
}

function intentsLine(row: NodeWorkStatus): string {
  const figures = row.workers.intents?.worker;
  if (figures === undefined) return '  intents    not reported';
  return `  intents    passes ${figures['passes'] ?? 0}; abandoned writes resolved ${figures['resolvedKeys'] ?? 0}, waiting for their key's set ${figures['waitingKeys'] ?? 0}`;
}

/** Event delivery's line of `admin status` (change-delivery.ts): the worker's passes, then each target's figures. */
function eventsLine(row: NodeWorkStatus): string {
  const figures = row.workers.events?.worker;
  if (figures === undefined) return '  events     not reported';
  const targets = (row.events ?? []).map(
    (target) =>
      `${target.target} backlog ${target.backlog}${target.backlog > 0 ? ` (oldest ${Math.round(target.oldestSeconds)} s)` : ''}, delivered ${target.delivered}, ` +
      `failures ${target.failures}, dropped ${target.dropped}, undeliverable ${target.undeliverable}`,
  );
  return (
    `  events     passes ${figures['passes'] ?? 0}; changes delivered ${figures['delivered'] ?? 0}, offered to their leader ${figures['offered'] ?? 0}, ` +
    `delivered by their leader ${figures['handedOver'] ?? 0}${targets.length === 0 ? '; no target used yet' : `; ${targets.join('; ')}`}`
  );
}

export function formatStatus(rows: readonly (NodeWorkStatus | { nodeId: string; error: string })[], nowMs = Date.now()): string {
  const lines: string[] = [];
  const mb = (x: number): string => `${(x / 1e6).toFixed(1)} MB`;
  for (const row of rows) {
    if ('error' in row) {
      lines.push(`${row.nodeId}: unreachable (${row.error})`);
      continue;
    }
    const { scrub, repair, audit, rebalance, gc } = row.figures;
    const { workers } = row;
    // Time left of a scrub pass: its elapsed time scaled by what remains.
    const scrubElapsedS = scrub.passStartedMs === null ? 0 : (nowMs - scrub.passStartedMs) / 1000;
    const scrubLeft = scrub.progress >= 1 ? 0 : scrub.progress > 0 && scrubElapsedS > 0 ? (scrubElapsedS * (1 - scrub.progress)) / scrub.progress : null;
    const rebalancing = !rebalance.done && rebalance.progress < 1;
    lines.push(
      `${row.nodeId} (ring epoch ${row.ringEpoch})`,
      `  scrub      pass ${scrub.passes + 1} ${progressBar(scrub.progress)} ${scrub.progress >= 1 ? 'done' : timeLeft(scrubLeft)} (${scrub.keysScanned}/${scrub.keysTotal} keys), ${mb(workers.scrub.bytesPerSecond ?? 0)}/s; ` +
        `shards verified ${scrub.shardsVerified} (${mb(scrub.bytesVerified)}), checksum failures ${scrub.checksumFailures}, missing ${scrub.missingShards}`,
      `  repair     ${repairProgress(repair.done, repair.pending, workers.repair.itemsPerSecond ?? 0)}done ${repair.done}, pending ${repair.pending}, failed attempts ${repair.failed}, quarantined ${row.quarantinedShards}; ` +
        `rebuilt ${repair.shardsRebuilt} shards, ${mb(repair.bytesRebuilt)} at ${repair.mbPerSecond.toFixed(1)} MB/s`,
      `  audit      passes ${audit.passes}, objects below full redundancy ${audit.belowFullRedundancy}` +
        ((audit.partitionsUnchecked ?? 0) > 0 ? `, partitions passed over unanswered ${audit.partitionsUnchecked ?? 0}` : ''),
      workers.rebalance.worker['enabled'] === false
        ? '  rebalance  off (healing.rebalance / TESSERA_REBALANCE)'
        : `  rebalance  ${rebalancing ? `${progressBar(rebalance.progress)} ${timeLeft(rebalance.etaSeconds)}` : 'idle'}; ` +
          `moved ${rebalance.moved} (${mb(rebalance.bytesMoved)}), pending ${rebalance.pending}`,
      workers.gc.worker['enabled'] === false
        ? '  gc         off (healing.gc / TESSERA_GC)'
        : `  gc         passes ${gc.passes}; tombstones dropped ${gc.tombstonesDropped} (kept at last pass ${gc.tombstonesKept}), ` +
          `uploads aborted ${gc.uploadsAborted}, parts dropped ${gc.partsDropped}, orphan files ${gc.orphanFilesRemoved}, ` +
          `temporary files ${gc.tmpFilesRemoved}, segments compacted ${gc.segmentsRemoved ?? 0}; freed ${mb(gc.bytesFreed)}`,
      lifecycleLine(row),
      intentsLine(row),
      splitsLine(row),
      eventsLine(row),
    );
  }
  return `${lines.join('\n')}\n`;
}
