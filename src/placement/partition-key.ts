import { encodeUtf8Into } from './encode-utf8.js';

/** Seed of the partition hash. Part of ring format version 1, as is writePartitionKey's framing: changing either remaps every key. */
export const PARTITION_HASH_SEED = 0n;

const LENGTH_PREFIX_BYTES = 4;

/** Room writePartitionKey needs for bucket/key: the length prefix and up to 3 UTF-8 bytes per UTF-16 unit. */
export function partitionKeyCapacity(bucket: string, key: string): number {
  return LENGTH_PREFIX_BYTES + 3 * (bucket.length + key.length);
}

/**
 * Writes the bytes placement hashes for bucket/key into `out` from its start and returns their length:
 * u32le(utf8 length of bucket) || utf8(bucket) || utf8(key). The length prefix makes the framing
 * collision-free for any pair of strings, not only valid bucket names. `out` needs partitionKeyCapacity bytes.
 */
export function writePartitionKey(bucket: string, key: string, out: Uint8Array): number {
  const bucketEnd = encodeUtf8Into(bucket, out, LENGTH_PREFIX_BYTES);
  const bucketBytes = bucketEnd - LENGTH_PREFIX_BYTES;
  out[0] = bucketBytes;
  out[1] = bucketBytes >>> 8;
  out[2] = bucketBytes >>> 16;
  out[3] = bucketBytes >>> 24;
  return encodeUtf8Into(key, out, bucketEnd);
}
