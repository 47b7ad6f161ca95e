import { DEFAULTS } from '../common/index.js';
import type { Codec } from '../erasure/index.js';
import { writeQuorum, type ErasureParams, type NodeClient, type ObjectRecord } from '../rpc/index.js';
import { decideQuorum, fanOut, fanOutUntil, type NodeOutcome } from './quorum.js';
import { S3Error } from './s3-errors.js';
import { ShardSink } from './shard-sink.js';

/** Where and how one object version is written. */
export interface WriteTarget {
  bucket: string;
  key: string;
  versionId: string;
  /** The placement's ordered node set: nodes[i] stores shard i. */
  nodes: readonly NodeClient[];
  erasure: ErasureParams;
  codec: Codec;
}

/** Knobs of the write path. */
export interface WriteOptions {
  signal: AbortSignal;
  stallTimeoutMs: number;
}

/**
 * How long a write waits for the remaining nodes once a write quorum has answered: long enough for
 * a healthy node with a busy disk (cutting it off would leave the object with less redundancy until
 * repair), short enough that a hung one (a cut link) does not stall the client for a full timeout.
 */
const STRAGGLER_GRACE_MS = DEFAULTS.stragglerGraceMs;

function successes(outcomes: readonly NodeOutcome<unknown>[]): number {
  return outcomes.filter((o) => o.ok).length;
}

/**
 * Hands one stripe's blocks to the sinks and waits until a write quorum has taken them, then at most
 * STRAGGLER_GRACE_MS for the rest. A sink still blocked after that (a hung node) is failed, so one
 * bad node costs a write the grace once instead of the stall timeout on every stripe.
 */
async function writeStripe(sinks: readonly ShardSink[], blocks: readonly Uint8Array[], needed: number): Promise<void> {
  const taken = new Set<ShardSink>();
  await fanOutUntil(
    sinks.filter((sink) => !sink.failed),
    async (sink) => {
      await sink.write(blocks[sink.shardIndex] as Uint8Array);
      if (!sink.failed) taken.add(sink);
    },
    () => taken.size >= needed,
    STRAGGLER_GRACE_MS,
  );
  for (const sink of sinks) {
    if (!sink.failed && !taken.has(sink)) sink.fail(new Error(`fell more than ${STRAGGLER_GRACE_MS} ms behind the write quorum`));
  }
}

/** Thrown when fewer than the write quorum of nodes stored their shard; the S3 layer answers 503. */
export function quorumError(phase: string, failures: readonly { nodeId: string; reason: string }[]): S3Error {
  const detail = failures.map((f) => `${f.nodeId}: ${f.reason}`).join('; ');
  return new S3Error('ServiceUnavailable', {
    message: 'Not enough storage nodes answered; please retry.',
    cause: new Error(`${phase} quorum not met (${detail})`),
  });
}

/**
 * Phase one of a write: erasure-codes the body stripe by stripe and streams shard i to node i.
 * At most one stripe (k data + m parity blocks) is held at a time, and the next stripe is read
 * only when every live node has taken the previous one, so memory does not grow with object size.
 * Resolves with the nodes that hold their shard durably (a write quorum), or throws after
 * aborting what was prepared.
 */
export async function prepareShards(
  target: WriteTarget,
  body: AsyncIterable<Uint8Array>,
  options: WriteOptions,
): Promise<{ sizeBytes: number; holders: ShardSink[] }> {
  const { dataShards, parityShards, blockSizeBytes } = target.erasure;
  const needed = writeQuorum(dataShards, parityShards);
  const sinks = target.nodes.map(
    (node, shardIndex) =>
      new ShardSink({
        node,
        ref: { bucket: target.bucket, key: target.key, versionId: target.versionId, shardIndex },
        erasure: target.erasure,
        highWaterMarkBytes: blockSizeBytes,
        stallTimeoutMs: options.stallTimeoutMs,
        signal: options.signal,
      }),
  );
  const stripeBytes = dataShards * blockSizeBytes;
  let stripe = new Uint8Array(stripeBytes);
  let fill = 0;
  let sizeBytes = 0;

  const flushStripe = async (dataBytes: number): Promise<void> => {
    const blockBytes = Math.ceil(dataBytes / dataShards);
    const shards: Uint8Array[] = [];
    for (let i = 0; i < dataShards; i += 1) shards.push(stripe.subarray(i * blockBytes, (i + 1) * blockBytes));
    for (let i = 0; i < parityShards; i += 1) shards.push(new Uint8Array(blockBytes));
    target.codec.encode(shards);
    await writeStripe(sinks, shards, needed);
    const live = sinks.filter((sink) => !sink.failed).length;
    if (live < needed) throw quorumError('write', failuresOf(sinks));
    // The sinks may still hold references to this stripe's blocks: start a new one.
    stripe = new Uint8Array(stripeBytes);
    fill = 0;
  };

  try {
    for await (const piece of body) {
      let offset = 0;
      sizeBytes += piece.length;
      while (offset < piece.length) {
        const take = Math.min(stripeBytes - fill, piece.length - offset);
        stripe.set(piece.subarray(offset, offset + take), fill);
        fill += take;
        offset += take;
        if (fill === stripeBytes) await flushStripe(stripeBytes);
      }
    }
    if (fill > 0) {
      // The short last stripe: zero the tail so padding is deterministic, then split it evenly.
      const blockBytes = Math.ceil(fill / dataShards);
      stripe.fill(0, fill, blockBytes * dataShards);
      await flushStripe(fill);
    }
    for (const sink of sinks) sink.end();
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
    // A straggler cut off here keeps a prepared shard that garbage collection removes later.
    for (const sink of sinks) if (!outcomes.some((o) => o.nodeId === sink.nodeId)) sink.fail(new Error('too slow'));
    const decision = decideQuorum(outcomes, needed);
    if (!decision.met) throw quorumError('write', decision.failures);
    return { sizeBytes, holders: decision.successes.map((s) => s.value) };
  } catch (err) {
    for (const sink of sinks) sink.fail(err);
    await abortShards(target, sinks);
    throw err;
  }
}

/**
 * Phase two: makes the version visible on every node that holds its shard. Acknowledged only when a
 * write quorum has committed; commits are idempotent, so a node that missed one is fixed by repair.
 */
export async function commitShards(
  target: WriteTarget,
  holders: readonly ShardSink[],
  record: ObjectRecord,
  signal: AbortSignal,
): Promise<void> {
  const needed = writeQuorum(target.erasure.dataShards, target.erasure.parityShards);
  const outcomes = await fanOutUntil(
    holders,
    (sink) => sink.node.commit({ record, shardIndex: sink.shardIndex }, { signal }),
    (sofar) => successes(sofar) >= needed,
    STRAGGLER_GRACE_MS,
  );
  const decision = decideQuorum(outcomes, needed);
  if (!decision.met) throw quorumError('commit', decision.failures);
}

/** Best-effort abort of prepared shards; what it misses, garbage collection removes later. */
export async function abortShards(target: WriteTarget, sinks: readonly ShardSink[]): Promise<void> {
  await fanOut(
    sinks,
    async (sink) => {
      await sink.done.catch(() => undefined);
      await sink.node.abort(
        { bucket: target.bucket, key: target.key, versionId: target.versionId, shardIndex: sink.shardIndex },
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
