import type { Logger } from '../../common/index.js';
import type { Ring, RingNode } from '../../placement/index.js';
import type { ObjectRecord, PartitionCursor, PartitionEntry } from '../../rpc/index.js';
import { isExpiredTombstone } from './gc-worker.js';
import type { HealingFigures } from './healing-figures.js';
import type { PeerClients } from './peer-clients.js';
import type { RepairTask } from './repair-worker.js';
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
  clock?: () => number;
}

const PAGE_ENTRIES = 1_000;

/**
 * Audit: for each partition this node leads (first in its set), compares the members' versions — a
 * digest from each first, full listings only where digests differ — and queues a repair for every
 * member that lacks the newest version of a key (missing metadata, missing shard, stale version).
 * Members that do not answer are skipped this pass. A tombstone past the collector's grace is not
 * copied to a member holding nothing or an older tombstone: for readers these are the same, and the
 * collector drops such tombstones member by member, so copying one back would undo every drop. A member
 * holding an older live version still gets it. Strays (keys on nodes outside their set) are the
 * rebalance worker's, which each node runs over its own keys. Cursor: ring epoch and next partition.
 */
export class AuditWorker implements Worker {
  readonly name = 'audit';
  private readonly options: AuditWorkerOptions;
  private readonly clock: () => number;
  private cursor = { epoch: 0, partition: 0 };
  private belowThisPass = 0;

  constructor(options: AuditWorkerOptions) {
    this.options = options;
    this.clock = options.clock ?? Date.now;
  }

  resume(cursor: string | null): void {
    if (cursor !== null) this.cursor = JSON.parse(cursor) as { epoch: number; partition: number };
  }

  restart(): void {
    this.cursor = { epoch: this.cursor.epoch, partition: 0 };
  }

  async step(signal: AbortSignal): Promise<StepResult> {
    const ring = this.options.ring();
    if (ring === undefined) return { items: 0, bytes: 0, cursor: null, idle: true };
    if (ring.epoch !== this.cursor.epoch) this.cursor = { epoch: ring.epoch, partition: 0 };
    const partitions = ring.table.length;
    let partition = this.cursor.partition;
    while (partition < partitions && ring.table[partition]?.[0] !== this.options.nodeId) partition += 1;
    if (partition >= partitions) {
      const { audit } = this.options.figures;
      audit.passes += 1;
      audit.lastPassMs = this.clock();
      audit.belowFullRedundancy = this.belowThisPass;
      this.belowThisPass = 0;
      this.cursor = { epoch: ring.epoch, partition: 0 };
      return { items: 0, bytes: 0, cursor: JSON.stringify(this.cursor), idle: true };
    }
    const found = await this.auditPartition(ring, partition, signal);
    this.options.figures.audit.partitionsChecked += 1;
    if (found > 0) this.options.onFindings();
    this.cursor = { epoch: ring.epoch, partition: partition + 1 };
    return { items: 1, bytes: 0, cursor: JSON.stringify(this.cursor), idle: false };
  }

  status(): WorkerStatus {
    return { epoch: this.cursor.epoch, partition: this.cursor.partition };
  }

  /** Audits one partition; returns the number of repairs queued. */
  private async auditPartition(ring: Ring, partition: number, signal: AbortSignal): Promise<number> {
    const { peers, figures } = this.options;
    const byId = new Map(ring.nodes.map((node) => [node.id, node]));
    const members = (ring.table[partition] ?? []).map((id) => byId.get(id)).filter((node): node is RingNode => node !== undefined);
    const timeout = AbortSignal.any([signal, AbortSignal.timeout(10_000)]);
    const digests = await Promise.allSettled(members.map((node) => peers.get(node).partitionDigest(partition, ring.partitionBits, { signal: timeout })));
    signal.throwIfAborted();
    const answered = members.filter((_, i) => digests[i]?.status === 'fulfilled');
    const values = new Set(digests.map((d) => (d.status === 'fulfilled' ? d.value.digest : null)).filter((d) => d !== null));
    if (answered.length < 2 || values.size <= 1) return 0;
    figures.audit.digestMismatches += 1;
    const listings = await Promise.all(answered.map((node) => this.listAll(node, partition, ring.partitionBits, timeout)));
    const keys = new Map<string, { newest: ObjectRecord; held: Map<string, PartitionEntry> }>();
    listings.forEach((entries, i) => {
      const node = answered[i] as RingNode;
      for (const entry of entries) {
        const id = `${entry.bucket}\0${entry.key}`;
        let slot = keys.get(id);
        if (slot === undefined) {
          slot = { newest: entry.record, held: new Map() };
          keys.set(id, slot);
        } else if (entry.record.versionId > slot.newest.versionId) slot.newest = entry.record;
        slot.held.set(node.id, entry);
      }
    });
    let queued = 0;
    const now = this.clock();
    for (const { newest, held } of keys.values()) {
      const expired = isExpiredTombstone(newest, now, this.options.tombstoneGraceMs);
      const sharded = [...held.values()].some((e) => e.record.versionId === newest.versionId && e.shardIndex !== null);
      let lacking = false;
      for (const node of answered) {
        const entry = held.get(node.id);
        if (entry !== undefined && entry.record.versionId >= newest.versionId) continue;
        if (expired && (entry === undefined || entry.record.deleted)) continue;
        lacking = true;
        const position = members.findIndex((m) => m.id === node.id);
        if (this.options.enqueue({ record: newest, target: node, shardIndex: sharded ? position : null })) queued += 1;
      }
      if (lacking) this.belowThisPass += 1;
    }
    return queued;
  }

  private async listAll(node: RingNode, partition: number, bits: number, signal: AbortSignal): Promise<PartitionEntry[]> {
    const all: PartitionEntry[] = [];
    let after: PartitionCursor | null = null;
    for (;;) {
      const page = await this.options.peers.get(node).partitionEntries(partition, bits, after, PAGE_ENTRIES, { signal });
      all.push(...page.entries);
      const last = page.entries.at(-1);
      if (!page.truncated || last === undefined) return all;
      after = { hashHex: last.hashHex, bucket: last.bucket, key: last.key };
    }
  }
}
