import { decideQuorum, fanOut, fanOutHedged, fanOutUntil, newestRecord, readQuorum, type NodeClient, type NodeOutcome, type ObjectRecord, type ObjectStatus } from '../../rpc/index.js';
import type { KeySets } from '../cluster/index.js';
import { quorumError } from '../s3/index.js';

/** The version a read resolved to, and which node holds which of its shards. */
export interface ResolvedVersion {
  record: ObjectRecord;
  /** shardIndex -> node holding (or, when unconfirmed, expected to hold) that shard of this version. */
  holders: Map<number, NodeClient>;
  /** Shard indices whose node did not answer in time: tried only after the confirmed ones. */
  unconfirmed?: Set<number>;
  /** Shards that came with the version lookup (a small object's inline shards, already verified by their nodes). */
  inlineShards?: Map<number, Uint8Array>;
}

/** What a version lookup should bring back besides the record. */
export interface ResolveOptions {
  /** Ask nodes for inline shard bytes too, so a small object's GET needs no second round. */
  withInlineShards?: boolean;
  /** Return the newest version even when it is a delete marker (which readers otherwise see as nothing). */
  withDeleteMarkers?: boolean;
}

/**
 * Asks the key's set for its newest version and picks the newest among at least a read quorum of
 * answers (so every acknowledged write is seen): the data-shard holders first, every node when they
 * cannot settle it. Null when there is none or it is a delete marker.
 * It stops waiting once a read quorum has answered and k nodes hold shards of the newest version seen
 * (or it needs no shards), so a hung node costs nothing while enough others are healthy.
 *
 * While a ring change moves the key (`sets.previous`), both sets are asked and each must give a read
 * quorum: a version acknowledged under the old ring may not have reached the new set yet, and one
 * written under the new ring is not on the old set. Shards count wherever they are found, since a
 * node reports which shard it holds.
 */
export async function resolveVersion(
  sets: KeySets,
  bucket: string,
  key: string,
  erasure: { dataShards: number; parityShards: number },
  signal: AbortSignal,
  options: ResolveOptions = {},
): Promise<ResolvedVersion | null> {
  const withInlineShard = options.withInlineShards === true;
  const { nodes, previous = [] } = sets;
  const needed = readQuorum(erasure.dataShards, erasure.parityShards);
  const groups = previous.length === 0 ? [nodes] : [nodes, previous];
  const asked = [...nodes, ...previous.filter((node) => !nodes.includes(node))];
  const lookup = (node: NodeClient): Promise<ObjectStatus | null> => node.objectStatus(bucket, key, { signal, withInlineShard });
  const enough = (sofar: readonly NodeOutcome<ObjectStatus | null>[]): boolean => canStopWaiting(sofar, groups, needed);
  const complete = (sofar: readonly NodeOutcome<ObjectStatus | null>[]): boolean => dataShardsConfirmed(sofar, nodes, erasure.dataShards);
  // The k data-shard holders are a read quorum (k >= n - W + 1) and hold the k shards a healthy read
  // needs: the parity holders are asked only when those cannot settle it (dataFirstHedgeMs).
  const outcomes =
    previous.length === 0 && erasure.dataShards >= needed
      ? await fanOutHedged(nodes.slice(0, erasure.dataShards), nodes.slice(erasure.dataShards), lookup, {
          enough,
          complete,
          graceMs: DATA_SHARD_GRACE_MS,
          hedgeMs: dataFirstHedgeMs(nodes.slice(0, erasure.dataShards)),
        })
      : await fanOutUntil(asked, lookup, enough, DATA_SHARD_GRACE_MS, complete);
  for (const group of groups) {
    const ids = new Set(group.map((node) => node.nodeId));
    const decision = decideQuorum(outcomes.filter((o) => ids.has(o.nodeId)), needed);
    if (!decision.met) throw quorumError('read', decision.failures);
  }
  const answers = decideQuorum(outcomes, 0).successes;
  const newest = await withoutDeletedById(asked, answers, newestRecord(answers.map(({ value }) => value?.record)), { bucket, key, signal });
  if (newest === undefined || (newest.deleted && options.withDeleteMarkers !== true)) return null;
  const holders = new Map<number, NodeClient>();
  const inlineShards = new Map<number, Uint8Array>();
  for (const { nodeId, value } of answers) {
    if (!holdsShardOf(value, newest) || value.shardIndex === null || holders.has(value.shardIndex)) continue;
    const node = asked.find((candidate) => candidate.nodeId === nodeId);
    if (node !== undefined) holders.set(value.shardIndex, node);
    if (value.inlineShard !== undefined) {
      inlineShards.set(value.shardIndex, Buffer.from(value.inlineShard, 'base64'));
    }
  }
  // Nodes that have not answered yet probably hold their placement position's shard: keep them as
  // fallbacks, so a shard that fails mid-read can still be replaced.
  const answered = new Set(outcomes.map((o) => o.nodeId));
  const unconfirmed = new Set<number>();
  for (const group of groups) {
    group.forEach((node, position) => {
      if (answered.has(node.nodeId) || holders.has(position)) return;
      holders.set(position, node);
      unconfirmed.add(position);
    });
  }
  return { record: newest, holders, unconfirmed, ...(inlineShards.size > 0 ? { inlineShards } : {}) };
}

/**
 * The newest version the answers name, unless some node knows it was deleted by id: then the newest
 * of the others. A node that was away when a key's latest version (or delete marker) was deleted by id
 * still names it as its newest until an audit reaches it. Checked only for a versioned bucket's key
 * whose answering nodes disagree on the newest version (a stale copy, a commit still reaching the
 * nodes, a node that missed a write): one more round then, none when they agree. With a read quorum of
 * answers, at least one of them took part in the delete's write quorum, so one knows.
 */
async function withoutDeletedById(
  asked: readonly NodeClient[],
  answers: readonly { value: ObjectStatus | null }[],
  newest: ObjectRecord | undefined,
  target: { bucket: string; key: string; signal: AbortSignal },
): Promise<ObjectRecord | undefined> {
  const excluded = new Set<string>();
  let candidate = newest;
  // Bounded: each round rules out one version, and a node rarely missed more than one such delete.
  for (let round = 0; candidate !== undefined && candidate.versioning !== undefined && round < 3; round += 1) {
    const { versionId } = candidate;
    const holding = answers.filter(({ value }) => value?.record.versionId === versionId).length;
    if (holding === answers.length) return candidate;
    const lookups = await fanOut(asked, (node) => node.versionLookup(target.bucket, target.key, versionId, { signal: target.signal }));
    if (!lookups.some((outcome) => outcome.ok && outcome.value?.gone === true)) return candidate;
    excluded.add(versionId);
    candidate = newestRecord(answers.map(({ value }) => value?.record).filter((record) => record !== undefined && !excluded.has(record.versionId)));
  }
  return candidate;
}

/**
 * How long a lookup that can already stop waits for the nodes of data shards that have not answered.
 * Without it a read took parity in their place and rebuilt every stripe: a profile of 1 MiB GETs on a
 * healthy embedded cluster counted 294 degraded reads in 300. A hung node costs a read at most this.
 */
const DATA_SHARD_GRACE_MS = 20;

/**
 * How long a lookup waits on the data-shard holders before it asks the parity holders too: as long as
 * the slowest of them usually takes (its latency bound), and at least DATA_SHARD_GRACE_MS. A holder that
 * fails, or answers that do not settle the lookup (a holder that missed the newest version), bring the
 * parity holders in at once; a hung holder costs a read this much.
 */
function dataFirstHedgeMs(dataHolders: readonly NodeClient[]): number {
  return Math.max(DATA_SHARD_GRACE_MS, ...dataHolders.map((node) => node.latency.boundMs));
}

/** Whether the nodes at the data-shard positions of `nodes` have all answered, so nothing is worth waiting for. */
function dataShardsConfirmed(outcomes: readonly NodeOutcome<ObjectStatus | null>[], nodes: readonly NodeClient[], dataShards: number): boolean {
  const answered = new Set(outcomes.map((o) => o.nodeId));
  return nodes.slice(0, dataShards).every((node) => answered.has(node.nodeId));
}

function canStopWaiting(outcomes: readonly NodeOutcome<ObjectStatus | null>[], groups: readonly (readonly NodeClient[])[], needed: number): boolean {
  const answered = new Set(outcomes.filter((o) => o.ok).map((o) => o.nodeId));
  if (groups.some((group) => group.filter((node) => answered.has(node.nodeId)).length < needed)) return false;
  const answers = outcomes.filter((o) => o.ok).map((o) => (o.ok ? o.value : null));
  // The same rule as the final pick, so the version waited for is the one the read returns.
  const newest = newestRecord(answers.map((answer) => answer?.record));
  if (newest === undefined || newest.deleted || newest.parts !== undefined || newest.upload !== undefined) return true;
  const shards = new Set(answers.filter((answer) => holdsShardOf(answer, newest)).map((answer) => answer.shardIndex));
  return shards.size >= newest.erasure.dataShards;
}

function holdsShardOf(status: ObjectStatus | null, record: ObjectRecord): status is ObjectStatus {
  return status !== null && status.record.versionId === record.versionId && status.shardIndex !== null;
}

/**
 * One version of a key by its id (`null`: the key's null version), current or not, delete markers
 * included. Every node of the key's sets is asked and a read quorum must answer, so a version
 * acknowledged on a write quorum is always found; null when none holds it, or when one that answered
 * knows it was deleted by id (a read quorum overlaps the delete's write quorum, so one does).
 *
 * While a ring change moves the key (`sets.previous`), each set must give a read quorum, as in
 * resolveVersion, and their answers are combined: a version acknowledged under the old ring is found
 * although the new set does not hold it yet, and a delete by id acknowledged by the new set (its
 * tombstones) wins over copies the old set still holds.
 */
export async function resolveNamedVersion(
  sets: KeySets,
  bucket: string,
  key: string,
  versionId: string,
  erasure: { dataShards: number; parityShards: number },
  signal: AbortSignal,
): Promise<ResolvedVersion | null> {
  const { nodes, previous = [] } = sets;
  const groups = previous.length === 0 ? [nodes] : [nodes, previous];
  const asked = [...nodes, ...previous.filter((node) => !nodes.includes(node))];
  const needed = readQuorum(erasure.dataShards, erasure.parityShards);
  // A read quorum of each set overlaps every write quorum, so once they have answered, a version none
  // of them holds does not exist; one that is found is waited for until k nodes hold its shards (or all answered).
  const outcomes = await fanOutUntil(
    asked,
    (node) => node.versionLookup(bucket, key, versionId, { signal }),
    (sofar) => namedLookupSettled(sofar, groups, needed),
  );
  for (const group of groups) {
    const ids = new Set(group.map((node) => node.nodeId));
    const decision = decideQuorum(outcomes.filter((o) => ids.has(o.nodeId)), needed);
    if (!decision.met) throw quorumError('read', decision.failures);
  }
  const answers = decideQuorum(outcomes, 0).successes;
  // Deleted by id: a node that was away when it happened, or an old member the delete did not reach
  // during a ring change, may still hold it until an audit or the rebalance reaches it.
  if (answers.some(({ value }) => value?.gone === true)) return null;
  // For `null`, nodes may disagree on which write is the null version: the newest one wins, unless it was deleted by id.
  const found = versionId === 'null' ? await nullVersionNotDeleted(asked, answers, { bucket, key, signal }) : newestRecord(answers.map(({ value }) => value?.record));
  if (found === undefined) return null;
  const holders = new Map<number, NodeClient>();
  for (const { nodeId, value } of answers) {
    if (!holdsShardOf(value, found) || value.shardIndex === null || holders.has(value.shardIndex)) continue;
    const node = asked.find((candidate) => candidate.nodeId === nodeId);
    if (node !== undefined) holders.set(value.shardIndex, node);
  }
  // As in resolveVersion: nodes not heard from yet are fallbacks for the shard of their position.
  const answered = new Set(outcomes.map((o) => o.nodeId));
  const unconfirmed = new Set<number>();
  for (const group of groups) {
    group.forEach((node, position) => {
      if (answered.has(node.nodeId) || holders.has(position)) return;
      holders.set(position, node);
      unconfirmed.add(position);
    });
  }
  return { record: found, holders, unconfirmed };
}

/**
 * Whether a named-version lookup can stop waiting: every set has given a read quorum of answers, and
 * one of them knows the version was deleted by id, or none holds it, or it needs no shards, or k nodes
 * hold its shards.
 */
function namedLookupSettled(outcomes: readonly NodeOutcome<ObjectStatus | null>[], groups: readonly (readonly NodeClient[])[], needed: number): boolean {
  const answered = new Set(outcomes.filter((o) => o.ok).map((o) => o.nodeId));
  if (groups.some((group) => group.filter((node) => answered.has(node.nodeId)).length < needed)) return false;
  const answers = outcomes.flatMap((o) => (o.ok ? [o.value] : []));
  if (answers.some((answer) => answer?.gone === true)) return true;
  const found = newestRecord(answers.map((answer) => answer?.record));
  if (found === undefined || found.deleted || found.parts !== undefined) return true;
  return new Set(answers.filter((answer) => holdsShardOf(answer, found)).map((answer) => answer.shardIndex)).size >= found.erasure.dataShards;
}

/**
 * The newest null version the answers name, unless a node that answered without it knows it was
 * deleted by id: then the newest of the others. A node answers `gone` only when asked by the real id,
 * and a `null` lookup names none, so a null version deleted by id (DELETE ?versionId=null) would
 * otherwise come back from a node the delete did not reach: an old member during a ring change, or a
 * node that was away. Only when the answers disagree, and only the nodes that answered without it are
 * asked again (a read quorum of the current set includes one that took part in the delete).
 */
async function nullVersionNotDeleted(
  asked: readonly NodeClient[],
  answers: readonly { nodeId: string; value: ObjectStatus | null }[],
  target: { bucket: string; key: string; signal: AbortSignal },
): Promise<ObjectRecord | undefined> {
  const excluded = new Set<string>();
  const remaining = (): ObjectRecord | undefined =>
    newestRecord(answers.map(({ value }) => value?.record).filter((record) => record !== undefined && !excluded.has(record.versionId)));
  // Bounded: each round rules out one version, and a node rarely missed more than one such delete.
  for (let round = 0; round < 3; round += 1) {
    const candidate = remaining();
    if (candidate === undefined) return undefined;
    const without = new Set(answers.filter(({ value }) => value?.record.versionId !== candidate.versionId).map(({ nodeId }) => nodeId));
    if (without.size === 0) return candidate;
    const others = asked.filter((node) => without.has(node.nodeId));
    const lookups = await fanOut(others, (node) => node.versionLookup(target.bucket, target.key, candidate.versionId, { signal: target.signal }));
    if (!lookups.some((outcome) => outcome.ok && outcome.value?.gone === true)) return candidate;
    excluded.add(candidate.versionId);
  }
  return remaining();
}
