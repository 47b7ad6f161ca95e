import { TesseraError } from '../common/index.js';
import type { RingTable } from './ring-table.js';

/** The only ring document version this code reads and writes. */
export const RING_VERSION = 1;

/**
 * Default partition bits for new rings: 2^10 = 1,024 partitions. Enough slots for even balance
 * (about 1% granularity) up to roughly a hundred nodes at replicas 6, while per-partition work
 * (rebalancing, listing cursors) and the ring file stay small for the embedded six-node cluster.
 * Raising it later is cheap: a partition splits into sub-partitions that keep their node list.
 */
export const DEFAULT_PARTITION_BITS = 10;

/** Largest accepted partitionBits: 2^20 partitions is far past any sane cluster and bounds the table size. */
export const MAX_PARTITION_BITS = 20;

/** Largest accepted replica count (n = k + m shards per object). */
export const MAX_REPLICAS = 64;

/** A storage node as the ring sees it; `address` is the "host:port" of the node's HTTP endpoint. */
export interface RingNode {
  id: string;
  address: string;
  zone: string;
  weight: number;
}

/**
 * An immutable placement: row p of `table` lists partition p's n distinct nodes, as indexes into
 * `nodes`; position in the row = shard index.
 */
export interface Ring {
  version: 1;
  epoch: number;
  partitionBits: number;
  replicas: number;
  nodes: RingNode[];
  table: RingTable;
}

/** Error codes raised by the placement layer. */
export type PlacementErrorCode = 'InvalidRing' | 'InvalidPartition';

/** Raises an 'InvalidRing' error naming the problem. */
export function invalidRing(message: string): never {
  throw new TesseraError<PlacementErrorCode>('InvalidRing', message);
}

/** Most members of one zone any partition may hold when the cluster spans `zoneCount` zones. */
export function zoneSpreadLimit(replicas: number, zoneCount: number): number {
  return Math.ceil(replicas / Math.max(1, zoneCount));
}

// Node ids and zones end up in file names, logs and metrics labels, so keep them to a tame alphabet.
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
// host is a DNS name, IPv4 literal or bracketed IPv6 literal.
const ADDRESS = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9][A-Za-z0-9.-]{0,252}):(\d{1,5})$/;

/** Checks one node record, naming `where` in the error so a bad ring file points at the entry. */
export function checkNode(value: unknown, where: string): RingNode {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    invalidRing(`${where} must be an object`);
  }
  const { id, address, zone, weight } = value as Record<string, unknown>;
  if (typeof id !== 'string' || !NAME.test(id)) {
    invalidRing(`${where}.id must be 1-64 characters of [A-Za-z0-9._-] starting with a letter or digit; got ${JSON.stringify(id)}`);
  }
  if (typeof address !== 'string') {
    invalidRing(`${where}.address must be a "host:port" string; got ${JSON.stringify(address)}`);
  }
  const match = ADDRESS.exec(address);
  const port = match ? Number(match[1]) : 0;
  if (!match || port < 1 || port > 65535) {
    invalidRing(`${where}.address must be "host:port" with a port in 1-65535; got ${JSON.stringify(address)}`);
  }
  if (typeof zone !== 'string' || !NAME.test(zone)) {
    invalidRing(`${where}.zone must be 1-64 characters of [A-Za-z0-9._-]; got ${JSON.stringify(zone)}`);
  }
  if (typeof weight !== 'number' || !Number.isFinite(weight) || weight < 0 || weight > 1e9) {
    invalidRing(`${where}.weight must be a finite number in [0, 1e9]; got ${JSON.stringify(weight)}`);
  }
  return { id, address, zone, weight };
}

/** Checks a node list: every record valid and ids unique. */
export function checkNodes(value: unknown, where: string): RingNode[] {
  if (!Array.isArray(value)) invalidRing(`${where} must be an array`);
  const seen = new Set<string>();
  return value.map((entry, i) => {
    const node = checkNode(entry, `${where}[${i}]`);
    if (seen.has(node.id)) invalidRing(`${where}[${i}].id ${JSON.stringify(node.id)} is a duplicate`);
    seen.add(node.id);
    return node;
  });
}

/** Checks replicas and partitionBits, shared by the parser and the builder. */
export function checkShape(replicas: unknown, partitionBits: unknown): void {
  if (typeof replicas !== 'number' || !Number.isInteger(replicas) || replicas < 1 || replicas > MAX_REPLICAS) {
    invalidRing(`replicas must be an integer in 1-${MAX_REPLICAS}; got ${JSON.stringify(replicas)}`);
  }
  if (
    typeof partitionBits !== 'number' ||
    !Number.isInteger(partitionBits) ||
    partitionBits < 0 ||
    partitionBits > MAX_PARTITION_BITS
  ) {
    invalidRing(`partitionBits must be an integer in 0-${MAX_PARTITION_BITS}; got ${JSON.stringify(partitionBits)}`);
  }
}
