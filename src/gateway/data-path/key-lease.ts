import { setTimeout as delay } from 'node:timers/promises';
import { newToken, type HybridClock } from '../../common/index.js';
import { fanOutUntil, isTimeoutFailure, majority, newestRecord, type LeaseResponse, type NodeClient, type ObjectRecord } from '../../rpc/index.js';
import { S3Error } from '../s3/index.js';
import type { NodeRounds } from './path-deps.js';
import { withTimeout, type RequestScope } from './request-scope.js';

/** What taking and giving back an exclusive lease needs: the caller's signal, the key's nodes and the node-call deadline. */
export type LeaseScope = RequestScope<NodeRounds>;

/** How long a lease lives unless given back: far longer than a conditional write's last check and commit, or a plain write's version id and commit. */
const LEASE_TTL_MS = 30_000;
/** A lease granted longer ago than this is asked for again (renewed) before a write relies on it. */
export const LEASE_RENEW_AFTER_MS = LEASE_TTL_MS / 2;
/** How long a conditional write waits for another one of the same key before answering SlowDown. */
const LEASE_WAIT_MS = 20_000;

/** A conditional write's hold on its key. */
export interface ExclusiveLease {
  /**
   * The newest record the granting nodes held when they granted: a plain write that committed on them
   * just before may not be on a read quorum yet, and the conditional write's check must see it.
   */
  current: ObjectRecord | undefined;
  /** Gives the lease back; `fence`: the version id the conditional write committed, which later plain writes must follow. */
  release(fence?: string): Promise<void>;
}

/**
 * Takes the exclusive lease on bucket/key (storage-node/key-leases.ts) that makes a conditional write's
 * last check and commit atomic with respect to every other write of the key, through any gateway:
 * other conditional writes hold the exclusive lease, plain writes a shared one. The lease is held once
 * a majority of the key's set granted it: any two majorities share a node, so two gateways that reach
 * different nodes (a link cut between one gateway and one node) still exclude each other, and a node
 * that restarts and forgets its leases cannot hand the key to a second writer alone. A round that wins
 * no majority gives back what it got and tries again after a random pause, so two contenders do not
 * split the set forever.
 */
export async function acquireKeyLease(ctx: LeaseScope, bucket: string, key: string, busyMessage = 'Another conditional write of this key is in progress; please retry.'): Promise<ExclusiveLease> {
  const token = newToken();
  const nodes = ctx.services.cluster.nodesFor(bucket, key);
  const { granted, answers } = await leaseRounds(ctx, nodes, bucket, key, token, 'exclusive', busyMessage);
  return {
    current: newestRecord(answers.map((answer) => answer.current)),
    release: (fence) => giveBack(ctx, nodes, bucket, key, token, granted, fence),
  };
}

/** How often a held lease (holdKeyLease) is renewed: six times within its time to live. */
const HOLD_RENEW_MS = LEASE_TTL_MS / 6;
/** What a held lease must still have to live for a step that relies on it (HeldLease.check). */
const HOLD_MARGIN_MS = LEASE_TTL_MS / 2;

/** An exclusive lease renewed in the background for as long as an operation that may take long holds it. */
export interface HeldLease extends ExclusiveLease {
  /**
   * Throws ServiceUnavailable (nothing written yet, so the client retries) unless the lease has been
   * held without a gap since it was granted and has at least half its time to live left: the check
   * before the step whose safety rests on the lease.
   */
  check(): void;
}

/**
 * Takes the exclusive lease on bucket/key (as acquireKeyLease) and renews it with the same token every
 * few seconds until released, for an operation whose reads and commits may outlast one lease (the
 * completion of an upload of 10,000 parts). A renewal counts only if a majority granted it while the
 * previous grant was still alive, measured from when each round was sent: a round after a gap is a
 * new grant, and another writer may have held the key in the gap, so the lease is then lost for good.
 */
export async function holdKeyLease(ctx: LeaseScope, bucket: string, key: string, busyMessage: string): Promise<HeldLease> {
  const token = newToken();
  const nodes = ctx.services.cluster.nodesFor(bucket, key);
  const needed = majority(nodes.length);
  const { granted, answers, sentMs: grantSentMs } = await leaseRounds(ctx, nodes, bucket, key, token, 'exclusive', busyMessage);
  // Counted from the granting round's start, not from the first round's: a lease waited for long
  // (other writers held the key) is as fresh as its grant.
  let confirmedMs = grantSentMs;
  let lost = false;
  let renewing: Promise<void> | undefined;
  const renew = async (): Promise<void> => {
    const sentMs = performance.now();
    const signal = AbortSignal.timeout(ctx.services.metadataTimeoutMs);
    const outcomes = await fanOutUntil(
      nodes,
      (node) => node.leaseAnswer({ bucket, key, token, ttlMs: LEASE_TTL_MS, mode: 'exclusive' }, { signal }),
      (sofar) => sofar.filter((o) => o.ok && o.value.granted).length >= needed,
    );
    for (const o of outcomes) if (o.ok && o.value.granted) granted.add(o.nodeId);
    if (outcomes.filter((o) => o.ok && o.value.granted).length < needed) return;
    // The answers may have been given after the previous grant ran out even if the round left before.
    if (performance.now() - confirmedMs >= LEASE_TTL_MS) lost = true;
    else confirmedMs = sentMs;
  };
  const timer = setInterval(() => {
    renewing ??= renew()
      .catch(() => undefined)
      .finally(() => {
        renewing = undefined;
      });
  }, HOLD_RENEW_MS);
  timer.unref();
  return {
    current: newestRecord(answers.map((answer) => answer.current)),
    check: () => {
      if (lost || performance.now() - confirmedMs > LEASE_TTL_MS - HOLD_MARGIN_MS) {
        throw new S3Error('ServiceUnavailable', { message: 'The storage nodes did not keep this request ordered long enough; please retry.' });
      }
    },
    release: async (fence) => {
      clearInterval(timer);
      await renewing;
      await giveBack(ctx, nodes, bucket, key, token, granted, fence);
    },
  };
}

/**
 * Takes a plain write's shared lease on bucket/key from a majority of its set (see acquireKeyLease),
 * waiting while a conditional write holds the key, and has the clock observe every fence the nodes
 * report, so the write's version id, taken next, follows every conditional write that held the key.
 * The lease is given back by the write's commit (its `leaseToken`) or by `releaseSharedLease`.
 */
export async function acquireSharedLease(ctx: RequestScope<NodeRounds & { clock: HybridClock }>, bucket: string, key: string, token: string): Promise<void> {
  const nodes = ctx.services.cluster.nodesFor(bucket, key);
  const { answers } = await leaseRounds(ctx, nodes, bucket, key, token, 'shared', 'A conditional write of this key is in progress; please retry.');
  for (const answer of answers) if (answer.fence !== undefined) ctx.services.clock.observe(answer.fence);
}

/** Gives a plain write's shared lease back on every node of the key's set (a write that failed before its commit did). */
export async function releaseSharedLease(ctx: LeaseScope, bucket: string, key: string, token: string): Promise<void> {
  const nodes = ctx.services.cluster.nodesFor(bucket, key);
  await giveBack(ctx, nodes, bucket, key, token, new Set(nodes.map((node) => node.nodeId)));
}

function giveBack(
  ctx: LeaseScope,
  nodes: readonly NodeClient[],
  bucket: string,
  key: string,
  token: string,
  granted: ReadonlySet<string>,
  fence?: string,
): Promise<void> {
  const signal = AbortSignal.timeout(ctx.services.metadataTimeoutMs);
  const request = { bucket, key, token, ttlMs: LEASE_TTL_MS, release: true, ...(fence === undefined ? {} : { fence }) };
  const calls = nodes.map((node) => node.lease(request, { signal }).catch(() => undefined));
  // Nodes that may hold it without our knowing (a late grant) are told too, without waiting on them.
  return Promise.all(calls.filter((_, i) => granted.has((nodes[i] as NodeClient).nodeId))).then(() => undefined);
}

/** Asks for the lease in rounds until a majority grants it; the granting nodes and their answers. */
async function leaseRounds(
  ctx: LeaseScope,
  nodes: readonly NodeClient[],
  bucket: string,
  key: string,
  token: string,
  mode: 'exclusive' | 'shared',
  busyMessage: string,
): Promise<{ granted: Set<string>; answers: LeaseResponse[]; sentMs: number }> {
  const { services } = ctx;
  const needed = majority(nodes.length);
  const deadline = Date.now() + LEASE_WAIT_MS;
  let pauseMs = 5;
  for (;;) {
    ctx.signal.throwIfAborted();
    const signal = withTimeout(ctx.signal, services.metadataTimeoutMs);
    const sentMs = performance.now();
    const outcomes = await fanOutUntil(
      nodes,
      (node) => node.leaseAnswer({ bucket, key, token, ttlMs: LEASE_TTL_MS, mode }, { signal }),
      (sofar) => {
        const grants = sofar.filter((o) => o.ok && o.value.granted).length;
        return grants >= needed || sofar.length - grants > nodes.length - needed;
      },
    );
    const answers = outcomes.flatMap((o) => (o.ok ? [o.value] : []));
    const granted = new Set(outcomes.filter((o) => o.ok && o.value.granted).map((o) => o.nodeId));
    if (granted.size >= needed) return { granted, answers: answers.filter((answer) => answer.granted), sentMs };
    await giveBack(ctx, nodes, bucket, key, token, granted);
    // Too many nodes refuse for any majority: no wait will help. Nodes that only answered too slowly
    // (a busy machine) are asked again: the next round's deadline has stretched to follow them.
    if (outcomes.filter((o) => !o.ok && !isTimeoutFailure(o.error)).length > nodes.length - needed) {
      throw new S3Error('ServiceUnavailable', { message: 'Too few storage nodes could order this write; please retry.' });
    }
    if (Date.now() > deadline) throw new S3Error('SlowDown', { message: busyMessage });
    // Random, so that two writers that split the set do not meet again at the same moment.
    await delay(pauseMs / 2 + Math.random() * pauseMs, undefined, { signal: ctx.signal });
    pauseMs = Math.min(pauseMs * 2, 100);
  }
}
