import type { Logger } from '../../common/index.js';
import type { RingNode } from '../../placement/index.js';
import type { ObjectRecord, PartitionEntry, PartitionVersionCursor, VersionGoneEntry } from '../../rpc/index.js';
import type { PeerClients } from './peer-clients.js';
import type { RepairTask } from './repair-worker.js';

/** Rows asked of a member per page of its version or tombstone listing. */
const PAGE_ROWS = 1_000;

/** What one partition's members hold beyond their current versions, and what the audit must know to judge it. */
export interface VersionAuditInput {
  partition: number;
  partitionBits: number;
  /** The partition's set under the current ring, in shard order. */
  members: readonly RingNode[];
  /** The members that answered the digest round. */
  answered: readonly RingNode[];
  /** The newest version id of each key (`bucket 00 key`) over the members: the current-version audit's. */
  newestOf: ReadonlyMap<string, string>;
  peers: PeerClients;
  /** Hands a finding to repair; false when its queue is full. */
  enqueue: (task: RepairTask) => boolean;
  tombstoneGraceMs: number;
  nowMs: number;
  logger: Logger;
  requestSignal: () => AbortSignal;
  signal: AbortSignal;
}

/** What auditing a partition's versions did. */
export interface VersionAuditFindings {
  /** Repairs queued for members lacking a noncurrent version. */
  queued: number;
  /** Versions some answering member lacked. */
  lacking: number;
  /** Deletes by id sent to members that missed them. */
  deletesSpread: number;
  /** Versions some member deleted by id (`bucket 00 key 00 version`): never to be repaired anywhere. */
  gone: ReadonlySet<string>;
}

interface HeldVersion {
  record: ObjectRecord;
  /** Member id -> the shard index it holds of this version (null: the record alone). */
  held: Map<string, number | null>;
}

/**
 * Audits every version of a partition's keys, not just the current one: a versioned bucket's noncurrent
 * versions and delete markers are erasure-coded on the same set and must be as redundant.
 *
 * - A version some member deleted by id (its tombstone) is deleted on every member still holding it, as
 *   the delete that member missed would have; a member holding neither gets the tombstone too, unless it
 *   is past the collector's grace (then it and "nothing" mean the same). Object Lock still rules: a
 *   member refuses a locked version's delete (GOVERNANCE is bypassed only if the original delete was).
 * - A noncurrent version of a versioned bucket that an answering member lacks is queued for repair onto
 *   it (its shard, or the record alone for a delete marker), like a current version. Keys never written
 *   under bucket versioning have no noncurrent versions: an older one is only a member behind, which
 *   the current-version audit settles.
 */
export async function auditVersions(input: VersionAuditInput): Promise<VersionAuditFindings> {
  const { answered, members } = input;
  const lists = await Promise.all(answered.map(async (node) => ({ node, versions: await listVersions(input, node), gone: await listGone(input, node) })));
  const versions = new Map<string, HeldVersion>();
  const gone = new Map<string, VersionGoneEntry>();
  const goneOn = new Map<string, Set<string>>();
  for (const { node, versions: rows, gone: tombstones } of lists) {
    for (const row of rows) {
      const id = versionSlot(row.bucket, row.key, row.record.versionId);
      let slot = versions.get(id);
      if (slot === undefined) {
        slot = { record: row.record, held: new Map() };
        versions.set(id, slot);
      }
      slot.held.set(node.id, row.shardIndex);
    }
    for (const tombstone of tombstones) {
      const id = versionSlot(tombstone.bucket, tombstone.key, tombstone.versionId);
      if (!gone.has(id)) gone.set(id, tombstone);
      let on = goneOn.get(id);
      if (on === undefined) {
        on = new Set();
        goneOn.set(id, on);
      }
      on.add(node.id);
    }
  }
  const findings: VersionAuditFindings = { queued: 0, lacking: 0, deletesSpread: 0, gone: new Set(gone.keys()) };
  for (const [id, tombstone] of gone) {
    const holders = versions.get(id)?.held ?? new Map<string, number | null>();
    const expired = input.nowMs - tombstone.deletedMs >= input.tombstoneGraceMs;
    for (const node of answered) {
      if (!holders.has(node.id) && (expired || goneOn.get(id)?.has(node.id) === true)) continue;
      input.signal.throwIfAborted();
      const { bucket, key, versionId } = tombstone;
      try {
        await input.peers.get(node).deleteVersion({ bucket, key, versionId, ...(tombstone.bypassGovernance === true ? { bypassGovernance: true } : {}) }, { signal: input.requestSignal() });
        findings.deletesSpread += 1;
      } catch (err) {
        if (input.signal.aborted) throw err;
        // A locked copy (a legal hold the others lifted while it was away) or a member gone quiet: the next audit tries again.
        input.logger.warn({ err, bucket, key, versionId, node: node.id }, 'could not spread a delete by version id');
      }
    }
  }
  // Keys some version of which was written under bucket versioning: only they keep older versions (an
  // object written before versioning was enabled stays as the null version).
  const versionedKeys = new Set<string>();
  for (const { record } of versions.values()) if (record.versioning !== undefined) versionedKeys.add(`${record.bucket}\0${record.key}`);
  for (const [id, { record, held }] of versions) {
    if (gone.has(id) || !versionedKeys.has(`${record.bucket}\0${record.key}`)) continue;
    // The key's newest version is the current-version audit's, which also weighs expired tombstones.
    if (input.newestOf.get(`${record.bucket}\0${record.key}`) === record.versionId) continue;
    const sharded = [...held.values()].some((shardIndex) => shardIndex !== null);
    let below = false;
    for (const node of answered) {
      if (held.has(node.id)) continue;
      below = true;
      const position = members.findIndex((m) => m.id === node.id);
      if (input.enqueue({ record, target: node, shardIndex: sharded ? position : null })) findings.queued += 1;
    }
    if (below) findings.lacking += 1;
  }
  return findings;
}

function versionSlot(bucket: string, key: string, versionId: string): string {
  return `${bucket}\0${key}\0${versionId}`;
}

async function listVersions(input: VersionAuditInput, node: RingNode): Promise<PartitionEntry[]> {
  const all: PartitionEntry[] = [];
  let after: PartitionVersionCursor | null = null;
  for (;;) {
    input.signal.throwIfAborted();
    const page = await input.peers.get(node).partitionVersions(input.partition, input.partitionBits, after, PAGE_ROWS, { signal: input.requestSignal() });
    all.push(...page.entries);
    const last = page.entries.at(-1);
    if (!page.truncated || last === undefined) return all;
    after = { hashHex: last.hashHex, bucket: last.bucket, key: last.key, versionId: last.record.versionId };
  }
}

async function listGone(input: VersionAuditInput, node: RingNode): Promise<VersionGoneEntry[]> {
  const all: VersionGoneEntry[] = [];
  let after: PartitionVersionCursor | null = null;
  for (;;) {
    input.signal.throwIfAborted();
    const page = await input.peers.get(node).partitionGone(input.partition, input.partitionBits, after, PAGE_ROWS, { signal: input.requestSignal() });
    all.push(...page.gone);
    const last = page.gone.at(-1);
    if (!page.truncated || last === undefined) return all;
    after = { hashHex: last.hashHex, bucket: last.bucket, key: last.key, versionId: last.versionId };
  }
}
