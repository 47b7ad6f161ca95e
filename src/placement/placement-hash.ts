import { encodeUtf8Into } from './encode-utf8.js';
import { XxHash64 } from './xxhash64.js';

const LENGTH_PREFIX_BYTES = 4;

/**
 * The 64-bit placement hash of bucket/key: xxhash64 (seed 0) over u32le(utf8 length of bucket) ||
 * utf8(bucket) || utf8(key), the framing RingLocator.partitionOf uses. A ring with P partition bits
 * puts the key in partition `hash >> (64 - P)`, so storage indexed by this hash can be walked one
 * partition at a time for any P. Allocates; hot lookups use RingLocator.
 */
export function placementHash(bucket: string, key: string): bigint {
  const bytes = new Uint8Array(LENGTH_PREFIX_BYTES + 3 * (bucket.length + key.length));
  const bucketEnd = encodeUtf8Into(bucket, bytes, LENGTH_PREFIX_BYTES);
  const bucketBytes = bucketEnd - LENGTH_PREFIX_BYTES;
  bytes[0] = bucketBytes;
  bytes[1] = bucketBytes >>> 8;
  bytes[2] = bucketBytes >>> 16;
  bytes[3] = bucketBytes >>> 24;
  const end = encodeUtf8Into(key, bytes, bucketEnd);
  const hasher = new XxHash64(0n);
  hasher.hash(bytes, end);
  return hasher.digest;
}

/** placementHash as 16 lower-case hex digits: fixed width, so byte order of the text is numeric order. */
export function placementHashHex(bucket: string, key: string): string {
  return placementHash(bucket, key).toString(16).padStart(16, '0');
}
