import { getDefaultHighWaterMark } from 'node:stream';
import { DEFAULTS } from '../../common/index.js';
import { encodedStripeBytes, fullStripeBytes, stripeBlocks, type Codec } from '../../erasure/index.js';
import { decideQuorum, fanOut, fanOutUntil, writeQuorum, type CommitRequest, type ErasureParams, type NodeClient, type NodeOutcome, type ObjectRecord, type SharedLeaseAnswer } from '../../rpc/index.js';
import { quorumError } from '../s3/index.js';
import { FanOutQuorumLost, ShardFanOut } from './shard-fan-out.js';
import { ShardSink } from './shard-sink.js';
import { StripeAssembler } from './stripe-assembler.js';
import type { StripePool } from './stripe-pool.js';

/** Where and how one object version is written. */
export interface WriteTarget {
  bucket: string;
  key: string;
  versionId: string;
  /** The placement's ordered node set: nodes[i] stores shard i. */
  nodes: readonly NodeClient[];
  erasure: ErasureParams;
  codec: Codec;
  /**
   * A plain write's shared key lease (key-lease.ts): asked for with each prepare, and given back
   * by each node's commit.
   */
  leaseToken?: string | undefined;
}

/** A node that holds a prepared shard of the version being written. */
export interface ShardHolder {
  readonly node: NodeClient;
  readonly nodeId: string;
  readonly shardIndex: number;
  /** The shared lease the prepare asked for, as the node answered. */
  readonly lease?: SharedLeaseAnswer | undefined;
  /** When that answer arrived (performance.now()): a grant is as old as this. */
  readonly answeredMs?: number | undefined;
}

/** What phase one of a write leaves: the nodes holding a prepared shard, and prepares still running. */
export interface PreparedShards {
  sizeBytes: number;
  holders: ShardHolder[];
  /**
   * Prepares that had not answered when the write quorum and its grace were in: each settles with its
   * holder once the node has the shard, or undefined when it failed (streamed uploads cut stragglers off).
   */
  stragglers: Promise<ShardHolder | undefined>[];
}

/** Knobs of the write path. */
export interface WriteOptions {
  signal: AbortSignal;
  stallTimeoutMs: number;
  /** The body size when known (Content-Length): sizes a short object's only stripe exactly. */
  expectedSizeBytes?: number | undefined;
  /** Reusable stripe buffers; without one, every stripe is a fresh allocation. */
  stripePool?: StripePool | undefined;
}

/**
 * How long a write waits for the remaining nodes once a write quorum has answered: long enough for
 * a healthy node with a busy disk (cutting it off would leave the object with less redundancy until
 * repair), short enough that a hung one (a cut link) does not stall the client for a full timeout.
 */
const STRAGGLER_GRACE_MS = DEFAULTS.stragglerGraceMs;

/**
 * Largest shard sent whole in a batched node call rather than streamed: a node keeps shards up to
 * 32 KiB inline in LevelDB by default, so these are the objects whose write is one small metadata
 * write per node (128 KiB at 4+2), and concurrent ones share requests (call-batcher.ts).
 */
const MAX_BATCHED_SHARD_BYTES = 32 * 1024;

function successes(outcomes: readonly NodeOutcome<unknown>[]): number {
  return outcomes.filter((o) => o.ok).length;
}

/**
 * Phase one of a write: erasure-codes the body stripe by stripe and streams shard i to node i. While
 * the nodes take one stripe the next is filled and encoded; at most MAX_STRIPES_QUEUED stripes wait
 * for a node at a time, so memory does not grow with object size. A short object's only stripe is
 * sized by the object, not by the stripe. Resolves with the nodes that hold their shard durably
 * (a write quorum), or throws after aborting what was prepared.
 */
export async function prepareShards(
  target: WriteTarget,
  body: AsyncIterable<Uint8Array>,
  options: WriteOptions,
): Promise<PreparedShards> {
  const { dataShards, blockSizeBytes } = target.erasure;
  // A body that ends within one stripe of small shards is sent whole; a longer one streams on from what was read.
  const smallLimitBytes = fullStripeBytes(dataShards, Math.min(blockSizeBytes, MAX_BATCHED_SHARD_BYTES));
  const iterator = body[Symbol.asyncIterator]();
  const head: Uint8Array[] = [];
  let headBytes = 0;
  for (;;) {
    if (headBytes > smallLimitBytes || (options.expectedSizeBytes ?? 0) > smallLimitBytes) {
      return prepareStreamed(target, continued(head, iterator), options);
    }
    const next = await iterator.next();
    if (next.done === true) break;
    head.push(next.value);
    headBytes += next.value.length;
  }
  return prepareWhole(target, head, headBytes, options);
}

/** The pieces already read, then the rest of the body. */
async function* continued(head: readonly Uint8Array[], rest: AsyncIterator<Uint8Array>): AsyncGenerator<Uint8Array> {
  yield* head;
  for (;;) {
    const next = await rest.next();
    if (next.done === true) return;
    yield next.value;
  }
}

/**
 * A small body held whole: encoded as one stripe and each shard sent in a batched prepare call, so
 * concurrent small writes share node requests. Same quorum and straggler rules as the streamed path.
 */
async function prepareWhole(
  target: WriteTarget,
  pieces: readonly Uint8Array[],
  sizeBytes: number,
  options: WriteOptions,
): Promise<PreparedShards> {
  const { dataShards, parityShards } = target.erasure;
  const needed = writeQuorum(dataShards, parityShards);
  // One allocation for data (zero-padded) and parity.
  const stripe = new Uint8Array(encodedStripeBytes(sizeBytes, dataShards, parityShards));
  let offset = 0;
  for (const piece of pieces) {
    stripe.set(piece, offset);
    offset += piece.length;
  }
  const shards = stripeBlocks(stripe, sizeBytes, dataShards, parityShards);
  if (sizeBytes > 0) target.codec.encode(shards);
  const holders: ShardHolder[] = target.nodes.map((node, shardIndex) => ({ node, shardIndex, nodeId: node.nodeId }));
  const prepares = holders.map(async (holder) => {
    const ref = { bucket: target.bucket, key: target.key, versionId: target.versionId, shardIndex: holder.shardIndex };
    const answer = await holder.node.prepareShard(ref, target.erasure, shards[holder.shardIndex] as Uint8Array, { signal: options.signal, fresh: true, leaseToken: target.leaseToken });
    return answer.lease === undefined ? holder : { ...holder, lease: answer.lease, answeredMs: performance.now() };
  });
  const outcomes = await fanOutUntil(holders, (holder) => prepares[holder.shardIndex] as Promise<ShardHolder>, (sofar) => successes(sofar) >= needed, STRAGGLER_GRACE_MS);
  const decision = decideQuorum(outcomes, needed);
  if (!decision.met) {
    // Every node that may have stored its shard is asked to drop it; what is missed, garbage collection removes.
    await abortShards(target, holders);
    throw quorumError('write', decision.failures);
  }
  // Prepares still running go on: a commit that loses a holder (a crash) can use one that finished late.
  const answered = new Set(outcomes.map((o) => o.nodeId));
  const stragglers = prepares.filter((_, i) => !answered.has((holders[i] as ShardHolder).nodeId)).map((p) => p.catch(() => undefined));
  return { sizeBytes, holders: decision.successes.map((success) => success.value), stragglers };
}

/** The streamed path: any body, stripe by stripe (StripeAssembler), each stripe's blocks to the shard sinks. */
async function prepareStreamed(
  target: WriteTarget,
  body: AsyncIterable<Uint8Array>,
  options: WriteOptions,
): Promise<PreparedShards> {
  const needed = writeQuorum(target.erasure.dataShards, target.erasure.parityShards);
  const sinks = target.nodes.map(
    (node, shardIndex) =>
      new ShardSink({
        node,
        ref: { bucket: target.bucket, key: target.key, versionId: target.versionId, shardIndex },
        erasure: target.erasure,
        signal: options.signal,
        leaseToken: target.leaseToken,
      }),
  );
  const pool = options.stripePool;
  const fanOut = new ShardFanOut({
    sinks,
    needed,
    stallTimeoutMs: options.stallTimeoutMs,
    graceMs: STRAGGLER_GRACE_MS,
    pool,
    socketBufferBytes: getDefaultHighWaterMark(false),
  });
  const stripes = new StripeAssembler({ erasure: target.erasure, codec: target.codec, fanOut, pool, expectedSizeBytes: options.expectedSizeBytes });
  try {
    for await (const piece of body) await stripes.write(piece);
    stripes.end();
    if (fanOut.liveSinks < needed) throw new FanOutQuorumLost();
    fanOut.end();
    const holders = await sinksOnQuorum(sinks, needed);
    // Every sink is finished or cut off now: the last stripes' buffers go back to the pool.
    fanOut.update();
    return { sizeBytes: stripes.sizeBytes, holders, stragglers: [] };
  } catch (caught) {
    const err = caught instanceof FanOutQuorumLost ? quorumError('write', failuresOf(sinks)) : caught;
    for (const sink of sinks) sink.fail(err);
    await abortShards(target, sinks);
    throw err;
  } finally {
    fanOut.close();
  }
}

/**
 * The sinks that stored their whole shard, once a write quorum has and the others had their grace;
 * a straggler cut off here keeps a prepared shard that garbage collection removes later.
 */
async function sinksOnQuorum(sinks: readonly ShardSink[], needed: number): Promise<ShardHolder[]> {
  const outcomes = await fanOutUntil(
    sinks,
    async (sink) => {
      await sink.done;
      if (sink.failed) throw sink.error;
      return sink;
    },
    (sofar) => successes(sofar) >= needed,
    STRAGGLER_GRACE_MS,
  );
  for (const sink of sinks) if (!outcomes.some((o) => o.nodeId === sink.nodeId)) sink.fail(new Error('too slow'));
  const decision = decideQuorum(outcomes, needed);
  if (!decision.met) throw quorumError('write', decision.failures);
  return decision.successes.map((s) => s.value);
}

/**
 * What travels with a version's commit to every holder besides the record: the bucket index's intent
 * (bucket-index.ts) and the note of the change (change-notes.ts), each when there is one.
 */
export type CommitCarried = Pick<CommitRequest, 'indexIntent' | 'change'>;

/**
 * Phase two: makes the version visible on every node that holds its shard. Acknowledged only when a
 * write quorum has committed; commits are idempotent, so a node that missed one is fixed by repair.
 */
export async function commitShards(
  target: WriteTarget,
  holders: readonly ShardHolder[],
  record: ObjectRecord,
  signal: AbortSignal,
  stragglers: readonly Promise<ShardHolder | undefined>[] = [],
  carried?: CommitCarried,
): Promise<void> {
  const needed = writeQuorum(target.erasure.dataShards, target.erasure.parityShards);
  const lease = target.leaseToken === undefined ? {} : { leaseToken: target.leaseToken };
  const commit = (holder: ShardHolder): Promise<void> => holder.node.commit({ record, shardIndex: holder.shardIndex, ...lease, ...carried }, { signal });
  let outcomes = await fanOutUntil(holders, commit, (sofar) => successes(sofar) >= needed, STRAGGLER_GRACE_MS);
  if (successes(outcomes) < needed && stragglers.length > 0) {
    // A holder lost since its prepare (a node that crashed) is made up for by a node whose prepare was
    // merely slow: with exactly a write quorum of holders, one fault would otherwise refuse the write.
    const late = await firstSettled(stragglers, needed - successes(outcomes), signal);
    outcomes = [...outcomes, ...(await fanOut(late, commit))];
  }
  const decision = decideQuorum(outcomes, needed);
  if (!decision.met) throw quorumError('commit', decision.failures, record.bucket);
}

/** The first `count` holders the stragglers produce; fewer when the rest failed or `signal` aborted first. */
function firstSettled(stragglers: readonly Promise<ShardHolder | undefined>[], count: number, signal: AbortSignal): Promise<ShardHolder[]> {
  return new Promise((resolve) => {
    const found: ShardHolder[] = [];
    let pending = stragglers.length;
    const done = (): void => {
      signal.removeEventListener('abort', done);
      resolve([...found]);
    };
    if (signal.aborted || pending === 0) {
      done();
      return;
    }
    signal.addEventListener('abort', done, { once: true });
    for (const straggler of stragglers) {
      void straggler.then((holder) => {
        pending -= 1;
        if (holder !== undefined) found.push(holder);
        if (found.length >= count || pending === 0) done();
      });
    }
  });
}

/** Best-effort abort of prepared shards; what it misses, garbage collection removes later. */
export async function abortShards(target: WriteTarget, holders: readonly (ShardHolder & { done?: Promise<unknown> })[]): Promise<void> {
  await fanOut(
    holders,
    async (holder) => {
      // A streamed upload still running is let finish first, so the abort comes after its prepare.
      await holder.done?.catch(() => undefined);
      await holder.node.abort(
        { bucket: target.bucket, key: target.key, versionId: target.versionId, shardIndex: holder.shardIndex },
        { signal: AbortSignal.timeout(5_000) },
      );
    },
  );
}

function failuresOf(sinks: readonly ShardSink[]): { nodeId: string; reason: string }[] {
  return sinks
    .filter((sink) => sink.failed)
    .map((sink) => ({ nodeId: sink.node.nodeId, reason: sink.error instanceof Error ? sink.error.message : String(sink.error) }));
}
