import { PARTITION_HASH_SEED, partitionKeyCapacity, writePartitionKey } from './partition-key.js';
import { XxHash64 } from './xxhash64.js';

/**
 * The 64-bit placement hash of bucket/key: xxhash64 (seed 0) over writePartitionKey's bytes, as
 * RingLocator.partitionOf hashes them. A ring with P partition bits
 * puts the key in partition `hash >> (64 - P)`, so storage indexed by this hash can be walked one
 * partition at a time for any P. Allocates; hot lookups use RingLocator.
 */
export function placementHash(bucket: string, key: string): bigint {
  const bytes = new Uint8Array(partitionKeyCapacity(bucket, key));
  const end = writePartitionKey(bucket, key, bytes);
  const hasher = new XxHash64(PARTITION_HASH_SEED);
  hasher.hash(bytes, end);
  return hasher.digest;
}

/** placementHash as 16 lower-case hex digits: fixed width, so byte order of the text is numeric order. */
export function placementHashHex(bucket: string, key: string): string {
  return placementHash(bucket, key).toString(16).padStart(16, '0');
}

/** The placement hashes of partition `partition` of a ring with `partitionBits` bits: [from, to), the top bits fixed. */
export function partitionHashRange(partition: number, partitionBits: number): { from: bigint; to: bigint } {
  const shift = BigInt(64 - partitionBits);
  return { from: BigInt(partition) << shift, to: (BigInt(partition) + 1n) << shift };
}
