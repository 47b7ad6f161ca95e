import { TesseraError } from '../../common/index.js';
import {
  objectLayout,
  stripeBlockSizeBytes,
  stripeDataBytes,
  stripeShardOffsetBytes,
  stripesForRange,
  type Codec,
  type ObjectLayout,
} from '../../erasure/index.js';
import { decideQuorum, fanOutUntil, newestRecord, readQuorum, type NodeClient, type NodeOutcome, type ObjectRecord, type ObjectStatus } from '../../rpc/index.js';
import type { KeySets } from '../cluster/index.js';
import { quorumError } from '../s3/index.js';
import { ShardCursor } from './shard-cursor.js';

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
}

/**
 * Asks every node of the key's set for its newest version and picks the newest among at least a read
 * quorum of answers (so every acknowledged write is seen). Null when there is none or it is a delete marker.
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
  const outcomes = await fanOutUntil(
    asked,
    (node) => node.objectStatus(bucket, key, { signal, withInlineShard }),
    (sofar) => canStopWaiting(sofar, groups, needed),
  );
  for (const group of groups) {
    const ids = new Set(group.map((node) => node.nodeId));
    const decision = decideQuorum(outcomes.filter((o) => ids.has(o.nodeId)), needed);
    if (!decision.met) throw quorumError('read', decision.failures);
  }
  const answers = decideQuorum(outcomes, 0).successes;
  const newest = newestRecord(answers.map(({ value }) => value?.record));
  if (newest === undefined || newest.deleted) return null;
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

/** Knobs and collaborators of one read. */
export interface ReadOptions {
  codec: Codec;
  signal: AbortSignal;
  stallTimeoutMs: number;
  logger: { warn: (fields: object, message: string) => void };
}

/**
 * Streams bytes [offset, offset + length) of a version. Reads the data shards (no decoding needed) and
 * yields their bytes in the pieces the nodes sent, never joined; while one stripe is being sent, the
 * next is read (one stripe ahead, no more). When a shard fails, stalls or fails its checksum, another
 * shard is opened at the same stripe and the stripe reconstructed. The first stripe is fetched before
 * this resolves, so the caller sends headers only once data is in hand; a failure later throws from
 * the iterator and the caller must cut the response.
 */
export async function openObjectStream(
  version: ResolvedVersion,
  offsetBytes: number,
  lengthBytes: number,
  options: ReadOptions,
): Promise<AsyncGenerator<Uint8Array>> {
  if (lengthBytes === 0) return (async function* empty() {})();
  const reader = new StripeReader(version, options);
  const generator = reader.stream(offsetBytes, lengthBytes);
  const first = await generator.next();
  return (async function* withFirst() {
    try {
      if (first.done !== true) yield first.value;
      yield* generator;
    } finally {
      reader.close();
    }
  })();
}

/** Thrown inside a reader that was closed (the client went away): not a shard failure. */
class ReaderClosed extends TesseraError<'ReaderClosed'> {
  constructor() {
    super('ReaderClosed', 'object read closed');
  }
}

class StripeReader {
  private readonly record: ObjectRecord;
  private readonly holders: Map<number, NodeClient>;
  private readonly unconfirmed: ReadonlySet<number>;
  private readonly inlineShards: ReadonlyMap<number, Uint8Array>;
  private readonly layout: ObjectLayout;
  private readonly options: ReadOptions;
  private readonly cursors = new Map<number, ShardCursor>();
  private readonly failed = new Set<number>();
  private shardEndBytes = 0;
  private closed = false;

  constructor(version: ResolvedVersion, options: ReadOptions) {
    this.record = version.record;
    this.holders = version.holders;
    this.unconfirmed = version.unconfirmed ?? new Set();
    this.inlineShards = version.inlineShards ?? new Map();
    this.options = options;
    this.layout = objectLayout(this.record.sizeBytes, this.record.erasure.dataShards, this.record.erasure.blockSizeBytes);
  }

  async *stream(offsetBytes: number, lengthBytes: number): AsyncGenerator<Uint8Array> {
    const { firstStripe, lastStripe, firstStripeSkipBytes } = stripesForRange(this.layout, offsetBytes, lengthBytes);
    this.shardEndBytes = stripeShardOffsetBytes(this.layout, lastStripe) + stripeBlockSizeBytes(this.layout, lastStripe);
    let skip = firstStripeSkipBytes;
    let remaining = lengthBytes;
    let next: Promise<Uint8Array[]> | undefined = this.readAhead(firstStripe);
    try {
      for (let stripe = firstStripe; stripe <= lastStripe && remaining > 0; stripe += 1) {
        const pieces = await (next as Promise<Uint8Array[]>);
        // Read the next stripe while this one is sent.
        next = stripe < lastStripe ? this.readAhead(stripe + 1) : undefined;
        for (const piece of pieces) {
          if (skip >= piece.length) {
            skip -= piece.length;
            continue;
          }
          const part = skip === 0 && piece.length <= remaining ? piece : piece.subarray(skip, Math.min(piece.length, skip + remaining));
          skip = 0;
          remaining -= part.length;
          if (part.length > 0) yield part;
          if (remaining === 0) break;
        }
      }
    } finally {
      this.close();
    }
  }

  close(): void {
    this.closed = true;
    for (const cursor of this.cursors.values()) cursor.close();
    this.cursors.clear();
  }

  /** Starts reading a stripe; its failure surfaces where it is awaited, not as an unhandled rejection. */
  private readAhead(stripe: number): Promise<Uint8Array[]> {
    const reading = this.readStripe(stripe);
    reading.catch(() => undefined);
    return reading;
  }

  /** The stripe's data bytes, trimmed to the object, as pieces in order. */
  private async readStripe(stripe: number): Promise<Uint8Array[]> {
    const { dataShards, parityShards } = this.record.erasure;
    const blockBytes = stripeBlockSizeBytes(this.layout, stripe);
    const shards: (Uint8Array[] | null)[] = new Array<Uint8Array[] | null>(dataShards + parityShards).fill(null);
    let have = 0;
    while (have < dataShards) {
      const wanted = this.pickShards(dataShards - have, shards);
      if (wanted.length < dataShards - have) {
        throw quorumError('shard read', [...this.failed].map((i) => ({ nodeId: this.holders.get(i)?.nodeId ?? `shard ${i}`, reason: 'unreadable' })));
      }
      const blocks = await Promise.all(wanted.map((index) => this.readBlock(index, stripe, blockBytes)));
      if (this.closed) throw new ReaderClosed();
      blocks.forEach((block, i) => {
        if (block !== null) {
          shards[wanted[i] as number] = block;
          have += 1;
        }
      });
    }
    const data = shards.slice(0, dataShards).some((block) => block === null) ? this.reconstruct(shards) : (shards.slice(0, dataShards) as Uint8Array[][]);
    let dataBytes = stripeDataBytes(this.layout, stripe);
    const out: Uint8Array[] = [];
    for (const block of data) {
      for (const piece of block) {
        if (dataBytes === 0) break;
        const part = piece.length > dataBytes ? piece.subarray(0, dataBytes) : piece;
        out.push(part);
        dataBytes -= part.length;
      }
    }
    return out;
  }

  /** Rebuilds missing data blocks; only this path joins a shard's pieces into one block. */
  private reconstruct(shards: (Uint8Array[] | null)[]): Uint8Array[][] {
    const joined = shards.map((pieces) => (pieces === null ? null : pieces.length === 1 ? (pieces[0] as Uint8Array) : Buffer.concat(pieces)));
    const rebuilt = this.options.codec.reconstruct(joined, { dataOnly: true });
    return rebuilt.slice(0, this.record.erasure.dataShards).map((block) => [block as Uint8Array]);
  }

  /** Shard indices to read next: open cursors first, then confirmed data and parity shards, then unconfirmed ones. */
  private pickShards(count: number, shards: readonly (Uint8Array[] | null)[]): number[] {
    const picked: number[] = [];
    const candidates = [...this.cursors.keys()].sort((a, b) => a - b);
    for (let i = 0; i < shards.length; i += 1) if (!candidates.includes(i) && !this.unconfirmed.has(i)) candidates.push(i);
    for (let i = 0; i < shards.length; i += 1) if (!candidates.includes(i)) candidates.push(i);
    for (const index of candidates) {
      if (picked.length === count) break;
      if (shards[index] !== null || this.failed.has(index) || !this.holders.has(index)) continue;
      picked.push(index);
    }
    return picked;
  }

  private async readBlock(shardIndex: number, stripe: number, blockBytes: number): Promise<Uint8Array[] | null> {
    // A small object's whole shard may have come with the version lookup.
    const inline = this.inlineShards.get(shardIndex);
    const inlineOffset = stripeShardOffsetBytes(this.layout, stripe);
    if (inline !== undefined && inline.length >= inlineOffset + blockBytes) return [inline.subarray(inlineOffset, inlineOffset + blockBytes)];
    try {
      if (this.closed) throw new ReaderClosed();
      let cursor = this.cursors.get(shardIndex);
      if (cursor === undefined) {
        const node = this.holders.get(shardIndex) as NodeClient;
        const start = stripeShardOffsetBytes(this.layout, stripe);
        const stream = await node.readShard(
          { bucket: this.record.bucket, key: this.record.key, versionId: this.record.versionId, shardIndex },
          start,
          this.shardEndBytes - start,
          { signal: this.options.signal },
        );
        cursor = new ShardCursor(shardIndex, stream, this.options.stallTimeoutMs);
        if (this.closed) {
          cursor.close();
          throw new ReaderClosed();
        }
        this.cursors.set(shardIndex, cursor);
      }
      return await cursor.read(blockBytes);
    } catch (err) {
      if (this.closed) return null;
      this.failed.add(shardIndex);
      this.cursors.get(shardIndex)?.close();
      this.cursors.delete(shardIndex);
      this.options.logger.warn({ err, shardIndex, key: this.record.key }, 'shard unreadable, using another');
      return null;
    }
  }
}
