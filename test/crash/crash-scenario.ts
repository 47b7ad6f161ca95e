import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { silentLogger } from '../../src/common/index.js';
import { ShardStore, loadBlockHasher } from '../../src/storage-node/index.js';
import { collect, seededRandom } from '../helpers/bytes.js';
import { CrashFleet, delay, type NodeSlot } from './crash-fleet.js';
import { claimedWriteId, payload, writeIdsIn } from './payload.js';

const KiB = 1024;
/** Object sizes: inline-sized shards (≤ 32 KiB at 4+2), single-stripe file shards, and multi-stripe objects. */
const SIZES = [100, 5 * KiB, 40 * KiB, 120 * KiB, 200 * KiB, 700 * KiB, 2_500 * KiB];
const ERASURE = { dataShards: 4, parityShards: 2, blockSizeBytes: 256 * KiB };
const BUCKET = 'crash';

/** Knobs of one crash run. */
export interface CrashOptions {
  chaosMs: number;
  writers: number;
  readers: number;
  keys: number;
  killEveryMs: readonly [number, number];
  /** Nodes allowed down (killed or still starting) at once: the parity count keeps the cluster available. */
  maxDown: number;
  /**
   * The first part of the chaos kills one node at a time (the next only once the last answers again),
   * so that availability with a single fault is measured on its own before `maxDown` applies.
   */
  singleFaultMs?: number;
  /**
   * The single-fault part goes on until this many writes finished in it (for at most twice
   * `singleFaultMs` more): a loaded machine writes slowly, and a handful would measure little.
   */
  minSingleFaultWrites?: number;
  /**
   * Chaos goes on past `chaosMs` until this many kills happened (for at most three more chaosMs): on a
   * loaded machine nodes restart slowly, and a fixed time alone would kill too few to prove anything.
   */
  minKills?: number;
  seed: number;
  log: (line: string) => void;
}

interface WriteRecord {
  id: number;
  key: string;
  sizeBytes: number;
  startMs: number;
  endMs: number;
  acked: boolean;
  /** Why the gateway refused it, when it did. */
  error?: string;
}

/** Writes grouped by how many distinct nodes were down at some moment of their life. */
export interface Availability {
  /** Writes that saw no node down: every one must be acknowledged. */
  noneDown: { total: number; refused: number };
  /** Writes that saw exactly one node down: 4+2 promises these too, so a refusal is a violation. */
  oneDown: { total: number; refused: number };
  /** Writes that saw two nodes down (m of them): counted and reported, not required. */
  twoDown: { total: number; refused: number };
  /** Writes that saw more than m down (the final crash of every node): anything goes. */
  moreDown: { total: number; refused: number };
  /** A few refusals and their reasons, for the report. */
  refusals: string[];
}

/** What a run did and every invariant it saw broken (none, when the store is right). */
export interface CrashReport {
  seed: number;
  durationMs: number;
  kills: number;
  killsDuringStartup: number;
  writes: { total: number; acked: number; failed: number };
  availability: Availability;
  reads: { total: number; verified: number; failed: number };
  /** Failed GETs by the number of distinct nodes down during them (reported, not yet required), with a few reasons. */
  readFailures: { oneDownOrNone: number; twoDown: number; moreDown: number; examples: string[] };
  finalKeysVerified: number;
  /** Final GETs that first failed and succeeded once the nodes settled prepared shards with their peers. */
  finalGetsRetried: number;
  /** Prepared shards the nodes' resolvers committed or dropped after the restart. */
  resolver: { committed: number; discarded: number };
  newerUnacknowledgedServed: number;
  tmpFilesRemovedAtRestart: number;
  leftoverTmpFiles: number;
  offline: { shardsVerified: number; orphans: number; missing: number; quarantined: number; preparedLeft: number };
  violations: string[];
}

/**
 * Runs nodes as child processes behind a gateway process, writes and overwrites objects of mixed sizes
 * while SIGKILLing a random node every few hundred milliseconds (and sometimes one that is still
 * recovering), then crashes every node at once mid-write, restarts them and checks:
 *  - every GET during the run returned exactly one write's bytes, of a write issued for that key, and
 *    never older than a write acknowledged before the GET began (no mix, no stale read);
 *  - afterwards every key reads back as its last acknowledged write or a write no acknowledged one
 *    superseded; after a clean stop tmp/ is empty on every node;
 *  - offline, every committed shard on every node passes its checksums, and recovery finds no orphan,
 *    missing or quarantined shard.
 */
export async function runCrashScenario(fleet: CrashFleet, options: CrashOptions): Promise<CrashReport> {
  const started = performance.now();
  const rand = seededRandom(options.seed);
  const violations: string[] = [];
  const violate = (message: string): void => {
    if (violations.length < 50) violations.push(message);
    options.log(`VIOLATION ${message}`);
  };
  for (const slot of fleet.nodes) fleet.startNode(slot);
  await Promise.all(fleet.nodes.map((slot) => slot.ready));
  const endpoint = await fleet.startGateway(ERASURE);
  const s3 = fleet.client(endpoint);
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));

  const writes = new Map<number, WriteRecord>();
  const byKey = new Map<string, WriteRecord[]>();
  const keys = Array.from({ length: options.keys }, (_, i) => `k/${String(i).padStart(3, '0')}`);
  for (const key of keys) byKey.set(key, []);
  let nextWriteId = 1;
  let writesEnded = 0;
  let stopping = false;
  const reads = { total: 0, verified: 0, failed: 0 };
  const failedReads: { startMs: number; endMs: number; error: string }[] = [];

  const writer = async (): Promise<void> => {
    while (!stopping) {
      const key = keys[Math.floor(rand() * keys.length)] as string;
      const record: WriteRecord = { id: nextWriteId++, key, sizeBytes: SIZES[Math.floor(rand() * SIZES.length)] as number, startMs: performance.now(), endMs: Infinity, acked: false };
      writes.set(record.id, record);
      byKey.get(key)?.push(record);
      try {
        await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: payload(record.id, record.sizeBytes) }));
        record.acked = true;
      } catch (err) {
        // Not acknowledged: it may or may not have taken effect, as S3 allows.
        record.error = `${(err as Error).name}: ${(err as Error).message}`;
      } finally {
        record.endMs = performance.now();
        writesEnded += 1;
      }
    }
  };

  /** Checks one successful GET body against the writes of its key. */
  const checkBody = (key: string, body: Buffer, getStartMs: number, phase: string): WriteRecord | null => {
    const id = claimedWriteId(body);
    const record = id === null ? undefined : writes.get(id);
    if (record === undefined || record.key !== key) {
      violate(`${phase} GET ${key}: ${body.length} bytes of no write issued for this key (first line ${JSON.stringify(body.toString('latin1', 0, 24))})`);
      return null;
    }
    if (!body.equals(payload(record.id, record.sizeBytes))) {
      violate(`${phase} GET ${key}: not write ${record.id}'s ${record.sizeBytes} bytes: got ${body.length} bytes naming writes ${writeIdsIn(body).join(',')}`);
      return null;
    }
    const newer = (byKey.get(key) ?? []).find((z) => z.acked && z.endMs < getStartMs && z.startMs > record.endMs);
    if (newer !== undefined) violate(`${phase} GET ${key}: served write ${record.id} though write ${newer.id}, newer, was acknowledged before the GET`);
    return record;
  };

  const reader = async (): Promise<void> => {
    while (!stopping) {
      const key = keys[Math.floor(rand() * keys.length)] as string;
      const getStart = performance.now();
      reads.total += 1;
      try {
        const body = await getBody(s3, key);
        if (body === null) {
          const acked = (byKey.get(key) ?? []).find((z) => z.acked && z.endMs < getStart);
          if (acked !== undefined) violate(`GET ${key}: NoSuchKey after write ${acked.id} was acknowledged`);
        } else if (checkBody(key, body, getStart, 'chaos') !== null) {
          reads.verified += 1;
        }
      } catch (err) {
        reads.failed += 1;
        failedReads.push({ startMs: getStart, endMs: performance.now(), error: `${(err as Error).name}: ${(err as Error).message}` });
      }
    }
  };

  let kills = 0;
  let killsDuringStartup = 0;
  const killer = async (): Promise<void> => {
    const chaosEnd = performance.now() + options.chaosMs;
    const latestEnd = chaosEnd + 3 * options.chaosMs;
    const singleFaultEnd = performance.now() + (options.singleFaultMs ?? 0);
    const goOn = (): boolean => performance.now() < chaosEnd || (kills < (options.minKills ?? 0) && performance.now() < latestEnd);
    while (goOn()) {
      const [low, high] = options.killEveryMs;
      await delay(low + rand() * (high - low));
      const down = fleet.nodes.filter((slot) => !slot.up).length;
      const starting = fleet.nodes.filter((slot) => !slot.up && slot.process !== null && !slot.process.hasExited);
      const singleFaultMs = options.singleFaultMs ?? 0;
      const singleFault =
        performance.now() < singleFaultEnd ||
        (singleFaultMs > 0 && writesEnded < (options.minSingleFaultWrites ?? 0) && performance.now() < singleFaultEnd + 2 * singleFaultMs);
      let victim: NodeSlot | undefined;
      if (singleFault) {
        if (down === 0) victim = fleet.nodes[Math.floor(rand() * fleet.nodes.length)];
      } else if (down < options.maxDown) victim = fleet.nodes.filter((slot) => slot.up)[Math.floor(rand() * (fleet.nodes.length - down))];
      else if (starting.length > 0 && rand() < 0.15) victim = starting[Math.floor(rand() * starting.length)];
      if (victim === undefined) continue;
      if (!victim.up) killsDuringStartup += 1;
      kills += 1;
      await fleet.killNode(victim);
      fleet.startNode(victim);
    }
  };

  const workers = [
    ...Array.from({ length: options.writers }, writer),
    ...Array.from({ length: options.readers }, reader),
  ];
  await killer();
  // The last crash takes every node at once, while writes are in flight.
  await Promise.all(fleet.nodes.map((slot) => fleet.killNode(slot)));
  stopping = true;
  await Promise.all(workers);
  for (const slot of fleet.nodes) fleet.startNode(slot);
  await Promise.all(fleet.nodes.map((slot) => slot.ready));
  options.log(`chaos over: ${kills} kills (${killsDuringStartup} during start-up), ${writes.size} writes, ${reads.total} reads`);

  let tmpFilesRemovedAtRestart = 0;
  for (const slot of fleet.nodes) {
    const health = (await (await fetch(`http://127.0.0.1:${slot.port}/health`)).json()) as { recovery?: { tmpFilesRemoved: number } | null };
    tmpFilesRemovedAtRestart += health.recovery?.tmpFilesRemoved ?? 0;
  }

  let finalKeysVerified = 0;
  let finalGetsRetried = 0;
  let newerUnacknowledgedServed = 0;
  for (const key of keys) {
    const history = byKey.get(key) ?? [];
    const acked = history.filter((w) => w.acked);
    const getStart = performance.now();
    let body: Buffer | null | undefined;
    let lastError: unknown;
    // A write whose commit reached only some nodes before the last crash is readable once the nodes
    // holding it prepared have settled it with their peers (a resolver pass every few seconds).
    const settleBy = performance.now() + 30_000;
    while (body === undefined && performance.now() < settleBy) {
      try {
        body = await getBody(s3, key);
      } catch (err) {
        lastError = err;
        await delay(500);
      }
    }
    if (lastError !== undefined) finalGetsRetried += 1;
    if (body === undefined) {
      violate(`final GET ${key} failed (${acked.length} acknowledged writes): ${(lastError as Error).name}: ${(lastError as Error).message}`);
      continue;
    }
    if (body === null) {
      if (acked.length > 0) violate(`final GET ${key}: NoSuchKey though ${acked.length} writes were acknowledged`);
      else finalKeysVerified += 1;
      continue;
    }
    const served = checkBody(key, body, getStart, 'final');
    if (served === null) continue;
    finalKeysVerified += 1;
    if (!served.acked) newerUnacknowledgedServed += 1;
  }

  const resolver = { committed: 0, discarded: 0 };
  for (const slot of fleet.nodes) {
    const health = (await (await fetch(`http://127.0.0.1:${slot.port}/health`)).json()) as { preparedResolver?: { committed: number; discarded: number } };
    resolver.committed += health.preparedResolver?.committed ?? 0;
    resolver.discarded += health.preparedResolver?.discarded ?? 0;
  }

  const availability = classifyWrites(fleet, [...writes.values()], violate);
  const readFailures = { oneDownOrNone: 0, twoDown: 0, moreDown: 0, examples: [] as string[] };
  for (const read of failedReads) {
    const down = fleet.nodesDownDuring(read.startMs, read.endMs);
    if (down.size <= 1) readFailures.oneDownOrNone += 1;
    else if (down.size === 2) readFailures.twoDown += 1;
    else readFailures.moreDown += 1;
    if (down.size <= 2 && readFailures.examples.length < 5) readFailures.examples.push(`${Math.round(read.endMs - read.startMs)} ms with ${down.size} down [${[...down].join(',')}]: ${read.error}`);
  }

  await fleet.stopAll();
  // Counted after a clean stop: while nodes run, repair of what they missed writes through tmp/ too.
  let leftoverTmpFiles = 0;
  for (const slot of fleet.nodes) {
    const left = await readdir(join(slot.dataDir, 'tmp'));
    leftoverTmpFiles += left.length;
    if (left.length > 0) violate(`${slot.id}: ${left.length} temporary files remain after a clean stop`);
  }
  const offline = await auditOffline(fleet, violate);
  return {
    seed: options.seed,
    durationMs: performance.now() - started,
    kills,
    killsDuringStartup,
    writes: { total: writes.size, acked: [...writes.values()].filter((w) => w.acked).length, failed: [...writes.values()].filter((w) => !w.acked).length },
    availability,
    reads,
    readFailures,
    finalKeysVerified,
    finalGetsRetried,
    resolver,
    newerUnacknowledgedServed,
    tmpFilesRemovedAtRestart,
    leftoverTmpFiles,
    offline,
    violations,
  };
}

/**
 * Sorts the writes by the number of distinct nodes down during them. Up to m = 2 down, 4+2 can take
 * every write; a refusal with at most one down is a violation (the promise the cluster makes with a
 * single fault), with two down it is counted and reported.
 */
function classifyWrites(fleet: CrashFleet, writes: readonly WriteRecord[], violate: (message: string) => void): Availability {
  const availability: Availability = {
    noneDown: { total: 0, refused: 0 },
    oneDown: { total: 0, refused: 0 },
    twoDown: { total: 0, refused: 0 },
    moreDown: { total: 0, refused: 0 },
    refusals: [],
  };
  for (const write of writes) {
    const down = fleet.nodesDownDuring(write.startMs, write.endMs);
    const group = down.size === 0 ? availability.noneDown : down.size === 1 ? availability.oneDown : down.size === 2 ? availability.twoDown : availability.moreDown;
    group.total += 1;
    if (write.acked) continue;
    group.refused += 1;
    const line = `write ${write.id} (${write.sizeBytes} bytes, ${Math.round(write.endMs - write.startMs)} ms) with ${down.size} down [${[...down].join(',')}]: ${write.error ?? 'refused'}`;
    if (down.size <= 1) violate(`refused while at most one node was down: ${line}`);
    else if (down.size === 2 && availability.refusals.length < 10) availability.refusals.push(line);
  }
  return availability;
}

/** GET a key's body; null for NoSuchKey; throws on any other failure (including a cut body). */
async function getBody(s3: S3Client, key: string): Promise<Buffer | null> {
  try {
    const got = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    return await collect(got.Body as AsyncIterable<Uint8Array>);
  } catch (err) {
    if ((err as Error).name === 'NoSuchKey') return null;
    throw err;
  }
}

/**
 * With every process stopped, opens each node's store in this process: recovery must find nothing to
 * clean, and every committed shard must read back through its checksums (a deep scrub).
 */
async function auditOffline(fleet: CrashFleet, violate: (message: string) => void): Promise<CrashReport['offline']> {
  const hash = await loadBlockHasher();
  const totals = { shardsVerified: 0, orphans: 0, missing: 0, quarantined: 0, preparedLeft: 0 };
  for (const slot of fleet.nodes) {
    const store = new ShardStore({ dataDir: slot.dataDir, hash, logger: silentLogger() });
    const report = await store.open();
    try {
      totals.orphans += report.orphanFilesRemoved;
      totals.missing += report.missingFiles;
      totals.quarantined += report.quarantinedShards;
      if (report.orphanFilesRemoved + report.missingFiles + report.quarantinedShards + report.tmpFilesRemoved > 0) {
        violate(`${slot.id}: a clean stop left work for recovery: ${JSON.stringify(report)}`);
      }
      for await (const _row of store.metadata.preparedShards()) totals.preparedLeft += 1;
      for await (const stored of store.metadata.objects()) {
        if (stored.shardIndex === null) continue;
        const ref = { bucket: stored.record.bucket, key: stored.record.key, versionId: stored.record.versionId, shardIndex: stored.shardIndex };
        try {
          const shard = await store.openShard(ref, 0, stored.shardSizeBytes);
          let bytes = 0;
          for await (const chunk of shard.chunks) bytes += chunk.length;
          if (bytes !== stored.shardSizeBytes) throw new Error(`read ${bytes} of ${stored.shardSizeBytes} bytes`);
          totals.shardsVerified += 1;
        } catch (err) {
          violate(`${slot.id}: committed shard ${ref.key} v${ref.versionId}#${ref.shardIndex} unreadable: ${(err as Error).message}`);
        }
      }
    } finally {
      await store.close();
    }
  }
  return totals;
}
