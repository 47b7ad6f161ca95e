import type { Logger } from '../../common/index.js';
import type { Ring, RingNode } from '../../placement/index.js';
import { fanOut, isNewerRecord, isNewerVersion, type ObjectRecord, type PartitionCursor, type PartitionEntry } from '../../rpc/index.js';
import { isExpiredTombstone } from './gc-worker.js';
import type { HealingFigures } from './healing-figures.js';
import type { PeerClients } from './peer-clients.js';
import type { RepairTask } from './repair-worker.js';
import { auditVersions } from './version-audit.js';
import type { StepResult, Worker, WorkerStatus } from './worker.js';

/** Construction parameters of the audit worker. */
export interface AuditWorkerOptions {
  nodeId: string;
  ring: () => Ring | undefined;
  peers: PeerClients;
  figures: HealingFigures;
  logger: Logger;
  /** Hands a finding to repair; false when its queue is full (the rest waits for the next pass). */
  enqueue: (task: RepairTask) => boolean;
  /** Wakes repair after a partition produced tasks. */
  onFindings: () => void;
  /** The collector's tombstone grace: an older tombstone is not copied where nothing (or another tombstone) is held. */
  tombstoneGraceMs: number;
  /** Partitions audited at once; DEFAULT_AUDIT_CONCURRENCY when absent. */
  concurrency?: number;
  clock?: () => number;
}

/**
 * Partitions audited at once by default. One partition costs a digest round trip to every member and
 * then waits; audited one at a time, a node that lost everything is found far slower than repair can
 * rebuild it. Each audit holds at most one request to any peer at a time.
 */
export const DEFAULT_AUDIT_CONCURRENCY = 8;

/** Longest one digest or page request may take: a member that does not answer is skipped (digests) or the partition is retried (pages). */
const REQUEST_TIMEOUT_MS = 10_000;

const PAGE_ENTRIES = 1_000;

/** What auditing one partition found: repairs queued, and keys some answering member lacked. */
interface PartitionFindings {
  queued: number;
  lacking: number;
  /** Fewer than two members of a set of several answered their digest: nothing was compared. */
  unchecked?: boolean;
}

/** One partition's audit in flight; `outcome` is set when it settles. */
interface PartitionAudit {
  partition: number;
  /** The pass it was started in: one started before a restart or a ring change does not count in the current pass. */
  pass: number;
  outcome: PartitionFindings | { error: unknown } | undefined;
}

/**
 * Audit: for each partition this node leads (first in its set), compares the members' versions — a
 * digest from each first, full listings only where digests differ — and queues a repair for every
 * member that lacks the newest version of a key (missing metadata, missing shard, stale version).
 * Members that do not answer are skipped this pass. Noncurrent versions, delete markers and deletes by
 * version id are audited the same way (version-audit.ts). A tombstone past the collector's grace is not
 * copied to a member holding nothing or an older tombstone: for readers these are the same, and the
 * collector drops such tombstones member by member, so copying one back would undo every drop. A member
 * holding an older live version still gets it. Strays (keys on nodes outside their set) are the
 * rebalance worker's, which each node runs over its own keys.
 *
 * Up to `concurrency` partitions are audited at once, in partition order; they stay in flight across
 * steps, and each step returns once at least one has finished. A partition that fails is retried (it
 * fails the step, so the runner backs off first). Cursor: ring epoch and the lowest partition not yet
 * fully audited, so a restart resumes there and re-audits at most the few that were in flight above it.
 */
export class AuditWorker implements Worker {
  readonly name = 'audit';
  private readonly options: AuditWorkerOptions;
  private readonly clock: () => number;
  // Not a ParallelWorker's `concurrency`: the runner must keep one lane, so cursors are saved in order.
  private readonly partitionsAtOnce: number;
  private epoch = 0;
  /** Number of the current pass (in this process): a restart or a ring change starts a new one. */
  private pass = 0;
  /** Next partition to consider starting. */
  private next = 0;
  /** Partitions of this pass whose audit failed, lowest first: started again before any new one. */
  private retry: number[] = [];
  private readonly running = new Map<PartitionAudit, Promise<void>>();
  private belowThisPass = 0;

  constructor(options: AuditWorkerOptions) {
    this.options = options;
    this.clock = options.clock ?? Date.now;
    this.partitionsAtOnce = Math.max(1, Math.floor(options.concurrency ?? DEFAULT_AUDIT_CONCURRENCY));
  }

  resume(cursor: string | null): void {
    if (cursor === null) return;
    const { epoch, partition } = JSON.parse(cursor) as { epoch: number; partition: number };
    this.epoch = epoch;
    this.next = partition;
  }

  restart(): void {
    this.newPass(this.epoch);
  }

  async step(signal: AbortSignal): Promise<StepResult> {
    const ring = this.options.ring();
    if (ring === undefined) return { items: 0, bytes: 0, cursor: null, idle: true };
    if (ring.epoch !== this.epoch) this.newPass(ring.epoch);
    this.startAudits(ring, signal);
    if (this.running.size === 0) {
      // Nothing in flight and nothing left to start: every partition this node leads was audited.
      const { audit } = this.options.figures;
      audit.passes += 1;
      audit.lastPassMs = this.clock();
      audit.belowFullRedundancy = this.belowThisPass;
      this.newPass(ring.epoch);
      return { items: 0, bytes: 0, cursor: this.cursor(), idle: true };
    }
    await Promise.race(this.running.values());
    if (signal.aborted) {
      // Each audit sees the abort and settles promptly: none is left running once the runner stops.
      await Promise.all(this.running.values());
      signal.throwIfAborted();
    }
    let items = 0;
    let queued = 0;
    let failure: { error: unknown } | undefined;
    for (const audit of [...this.running.keys()]) {
      const { outcome } = audit;
      if (outcome === undefined) continue;
      this.running.delete(audit);
      if ('error' in outcome) {
        if (audit.pass !== this.pass) continue;
        this.retry.push(audit.partition);
        this.retry.sort((a, b) => a - b);
        failure ??= outcome;
        continue;
      }
      // Repairs queued by an audit of an earlier pass stand, so repair is woken for them too.
      queued += outcome.queued;
      if (audit.pass !== this.pass) continue;
      items += 1;
      if (outcome.unchecked === true) this.options.figures.audit.partitionsUnchecked += 1;
      else this.options.figures.audit.partitionsChecked += 1;
      this.belowThisPass += outcome.lacking;
    }
    if (queued > 0) this.options.onFindings();
    if (failure !== undefined) throw failure.error;
    return { items, bytes: 0, cursor: this.cursor(), idle: false };
  }

  status(): WorkerStatus {
    const inFlight = [...this.running.keys()].filter((audit) => audit.pass === this.pass).length;
    return { epoch: this.epoch, partition: this.lowestUnfinished(), inFlight, concurrency: this.partitionsAtOnce };
  }

  private newPass(epoch: number): void {
    this.epoch = epoch;
    this.pass += 1;
    this.next = 0;
    this.retry = [];
    this.belowThisPass = 0;
  }

  /** Starts audits (failed ones first, then partitions this node leads, in order) until `concurrency` are in flight. */
  private startAudits(ring: Ring, signal: AbortSignal): void {
    while (this.running.size < this.partitionsAtOnce) {
      const retried = this.retry[0];
      const partition = retried ?? this.nextLed(ring);
      if (partition === undefined) return;
      // An audit of it from before a restart is still running: both would queue the same repairs, and
      // one taken by repair meanwhile would be rebuilt twice. It starts once that one has settled.
      if ([...this.running.keys()].some((audit) => audit.partition === partition)) return;
      if (retried === undefined) this.next = partition + 1;
      else this.retry.shift();
      const audit: PartitionAudit = { partition, pass: this.pass, outcome: undefined };
      const settled = this.auditPartition(ring, partition, signal).then(
        (findings) => {
          audit.outcome = findings;
        },
        (error: unknown) => {
          audit.outcome = { error };
        },
      );
      this.running.set(audit, settled);
    }
  }

  /** The next partition this node leads, from `next` on (partitions it passes over are not its own). */
  private nextLed(ring: Ring): number | undefined {
    const partitions = ring.table.partitions;
    while (this.next < partitions && ring.table.nodeId(this.next, 0) !== this.options.nodeId) this.next += 1;
    return this.next < partitions ? this.next : undefined;
  }

  /** The lowest partition of this pass not yet fully audited: everything below it is done. */
  private lowestUnfinished(): number {
    let lowest = Math.min(this.next, this.retry[0] ?? this.next);
    for (const audit of this.running.keys()) if (audit.pass === this.pass && audit.partition < lowest) lowest = audit.partition;
    return lowest;
  }

  private cursor(): string {
    return JSON.stringify({ epoch: this.epoch, partition: this.lowestUnfinished() });
  }

  /** Audits one partition: the repairs it queued and the keys it found below full redundancy. */
  private async auditPartition(ring: Ring, partition: number, signal: AbortSignal): Promise<PartitionFindings> {
    const { peers, figures } = this.options;
    const byId = new Map(ring.nodes.map((node) => [node.id, node]));
    const members = ring.table.row(partition).map((id) => byId.get(id)).filter((node): node is RingNode => node !== undefined);
    signal.throwIfAborted();
    const digests = await fanOut(members, (node) => peers.get(node).partitionDigest(partition, ring.partitionBits, { signal: requestSignal(signal) }));
    signal.throwIfAborted();
    const answered = members.filter((_, i) => digests[i]?.ok === true);
    const values = new Set(digests.flatMap((d) => (d.ok ? [d.value.digest] : [])));
    if (answered.length < 2) return { queued: 0, lacking: 0, unchecked: members.length >= 2 };
    if (values.size <= 1) return { queued: 0, lacking: 0 };
    figures.audit.digestMismatches += 1;
    const listings = await Promise.all(answered.map((node) => this.listAll(node, partition, ring.partitionBits, signal)));
    const keys = new Map<string, { newest: ObjectRecord; held: Map<string, PartitionEntry> }>();
    listings.forEach((entries, i) => {
      const node = answered[i] as RingNode;
      for (const entry of entries) {
        const id = `${entry.bucket}\0${entry.key}`;
        let slot = keys.get(id);
        if (slot === undefined) {
          slot = { newest: entry.record, held: new Map() };
          keys.set(id, slot);
        } else if (isNewerRecord(entry.record, slot.newest)) slot.newest = entry.record;
        slot.held.set(node.id, entry);
      }
    });
    const now = this.clock();
    const newestOf = new Map([...keys.entries()].map(([id, slot]) => [id, slot.newest.versionId]));
    // Every version, not only the current ones; deletes by id are spread first, so no repair below
    // rebuilds a version that is gone.
    const versions = await auditVersions({
      partition,
      partitionBits: ring.partitionBits,
      members,
      answered,
      newestOf,
      peers,
      enqueue: this.options.enqueue,
      tombstoneGraceMs: this.options.tombstoneGraceMs,
      nowMs: now,
      logger: this.options.logger,
      requestSignal: () => requestSignal(signal),
      signal,
    });
    let queued = versions.queued;
    let lacking = versions.lacking;
    for (const { newest, held } of keys.values()) {
      if (versions.gone.has(`${newest.bucket}\0${newest.key}\0${newest.versionId}`)) continue;
      const expired = isExpiredTombstone(newest, now, this.options.tombstoneGraceMs);
      const sharded = [...held.values()].some((e) => e.record.versionId === newest.versionId && e.shardIndex !== null);
      let below = false;
      for (const node of answered) {
        const entry = held.get(node.id);
        // Lacking is by version alone: a member holding this version with older tags ignores a commit of it.
        if (entry !== undefined && !isNewerVersion(newest.versionId, entry.record.versionId)) continue;
        if (expired && (entry === undefined || entry.record.deleted)) continue;
        below = true;
        const position = members.findIndex((m) => m.id === node.id);
        if (this.options.enqueue({ record: newest, target: node, shardIndex: sharded ? position : null })) queued += 1;
      }
      if (below) lacking += 1;
    }
    return { queued, lacking };
  }

  private async listAll(node: RingNode, partition: number, bits: number, signal: AbortSignal): Promise<PartitionEntry[]> {
    const all: PartitionEntry[] = [];
    let after: PartitionCursor | null = null;
    for (;;) {
      signal.throwIfAborted();
      const page = await this.options.peers.get(node).partitionEntries(partition, bits, after, PAGE_ENTRIES, { signal: requestSignal(signal) });
      all.push(...page.entries);
      const last = page.entries.at(-1);
      if (!page.truncated || last === undefined) return all;
      after = { hashHex: last.hashHex, bucket: last.bucket, key: last.key };
    }
  }
}

/**
 * A signal for one request: the worker's, plus that request's own timeout. One per request, so each
 * carries a single abort listener (the request's), removed when the request ends.
 */
function requestSignal(signal: AbortSignal): AbortSignal {
  return AbortSignal.any([signal, AbortSignal.timeout(REQUEST_TIMEOUT_MS)]);
}
