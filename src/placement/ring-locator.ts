import { TesseraError } from '../common/index.js';
import { encodeUtf8Into } from './encode-utf8.js';
import { PARTITION_HASH_SEED, partitionKeyCapacity, writePartitionKey } from './partition-key.js';
import type { PlacementErrorCode, Ring, RingNode } from './ring.js';
import { XxHash64 } from './xxhash64.js';
import { wasmXxHash64High } from './xxhash64-wasm.js';

/**
 * This thread's WebAssembly partition hash, which hashes with seed 0 (null without WebAssembly);
 * lookups are synchronous, so every locator shares it.
 */
const wasmHash = PARTITION_HASH_SEED === 0n ? wasmXxHash64High() : null;

/** Whether two node sets are the same nodes in the same slots (a key placed alike by two rings). */
export function sameNodes(a: readonly RingNode[], b: readonly RingNode[]): boolean {
  return a.length === b.length && a.every((node, i) => node.id === b[i]?.id);
}

/** Where an object lives: its partition and the partition's n nodes, list position = shard index. */
export interface Placement {
  partition: number;
  nodes: readonly RingNode[];
}

/** murmur3's 32-bit finaliser: cheap, well mixed, and free of floating point so every platform agrees. */
function mix32(value: number): number {
  let h = value;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * A ring compiled for lookups: node objects resolved per partition up front so `locate` only
 * hashes and indexes. Holds a scratch buffer, so one instance serves one thread (as JS does).
 * Compiling costs a pass over the table: whoever holds the ring in use holds its locator too.
 */
export class RingLocator {
  /** The ring this locator answers for. */
  readonly ring: Ring;
  private readonly hasher = new XxHash64(PARTITION_HASH_SEED);
  private scratch = new Uint8Array(1024);
  private readonly shift: number;
  private readonly mask: number;
  private readonly sets: (readonly RingNode[])[];
  private readonly handoffMemo: (readonly RingNode[] | undefined)[];
  private readonly nodeHashes: Uint32Array;

  /** Resolves every table entry to its node. */
  constructor(ring: Ring) {
    this.ring = ring;
    // With 0 bits the shift is 32, which JS takes mod 32; the mask then zeroes the result.
    this.shift = 32 - ring.partitionBits;
    this.mask = 2 ** ring.partitionBits - 1;
    const { table, replicas } = ring;
    this.sets = new Array<readonly RingNode[]>(table.partitions);
    for (let p = 0; p < table.partitions; p++) {
      const set = new Array<RingNode>(replicas);
      for (let i = 0; i < replicas; i++) set[i] = ring.nodes[table.nodeIndex(p, i)]!;
      this.sets[p] = Object.freeze(set);
    }
    this.handoffMemo = new Array<readonly RingNode[] | undefined>(table.partitions);
    const bytes = new Uint8Array(256);
    this.nodeHashes = Uint32Array.from(ring.nodes, (node) => {
      const length = encodeUtf8Into(node.id, bytes, 0);
      return this.hasher.hash(bytes, length) ^ this.hasher.low;
    });
  }

  /** The partition of bucket/key: the top partitionBits of xxhash64 (seed 0) over writePartitionKey's bytes. */
  partitionOf(bucket: string, key: string): number {
    const need = partitionKeyCapacity(bucket, key);
    if (wasmHash !== null && need <= wasmHash.input.length) {
      return (wasmHash.high(writePartitionKey(bucket, key, wasmHash.input)) >>> this.shift) & this.mask;
    }
    if (need > this.scratch.length) this.scratch = new Uint8Array(Math.max(need, this.scratch.length * 2));
    const end = writePartitionKey(bucket, key, this.scratch);
    return (this.hasher.hash(this.scratch, end) >>> this.shift) & this.mask;
  }

  /** The partition and ordered node set of bucket/key. */
  locate(bucket: string, key: string): Placement {
    const partition = this.partitionOf(bucket, key);
    return { partition, nodes: this.sets[partition]! };
  }

  /** The ordered node set of a partition; position = shard index. */
  nodesOf(partition: number): readonly RingNode[] {
    return this.sets[partition] ?? invalidPartition(partition, this.sets.length);
  }

  /**
   * Nodes outside the partition's set, in the order to try when set members are down: the best
   * node of each zone first (zones holding fewest of the partition first), then everyone else,
   * then zero-weight (draining) nodes. "Best" is a rendezvous score of node and partition, so a
   * node joining or leaving shifts the order of the others as little as possible.
   */
  handoffs(partition: number): readonly RingNode[] {
    const memo = this.handoffMemo[partition];
    if (memo) return memo;
    const members = this.nodesOf(partition);
    const salt = Math.imul(partition + 1, 0x9e3779b1);
    const inSet = new Set(members.map((node) => node.id));
    const zoneLoad = new Map<string, number>();
    for (const node of members) zoneLoad.set(node.zone, (zoneLoad.get(node.zone) ?? 0) + 1);
    const ranked = this.ring.nodes
      .map((node, i) => ({ node, score: mix32(this.nodeHashes[i]! ^ salt) }))
      .filter(({ node }) => !inSet.has(node.id))
      .sort((a, b) => b.score - a.score || (a.node.id < b.node.id ? -1 : 1))
      .map(({ node }) => node);
    const live = ranked.filter((node) => node.weight > 0);
    const leaders = new Map<string, RingNode>();
    for (const node of live) if (!leaders.has(node.zone)) leaders.set(node.zone, node);
    // Stable sort: equal zone load keeps the leaders in score order.
    const first = [...leaders.values()].sort((a, b) => (zoneLoad.get(a.zone) ?? 0) - (zoneLoad.get(b.zone) ?? 0));
    const chosen = new Set(first);
    const result = [...first, ...live.filter((node) => !chosen.has(node)), ...ranked.filter((node) => node.weight <= 0)];
    const frozen = Object.freeze(result);
    this.handoffMemo[partition] = frozen;
    return frozen;
  }
}

function invalidPartition(partition: number, count: number): never {
  throw new TesseraError<PlacementErrorCode>('InvalidPartition', `partition ${partition} is outside 0-${count - 1}`);
}
