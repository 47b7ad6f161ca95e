import { ErasureError } from './errors.js';

/**
 * Stripe layout of an object: the body is cut into stripes of k × blockSizeBytes and shard i holds block i of every
 * stripe. The last stripe is shorter: its per-shard block is ceil(lastStripeBytes / k) bytes, zero padded.
 */
export interface ObjectLayout {
  readonly objectSizeBytes: number;
  readonly dataShards: number;
  readonly blockSizeBytes: number;
  readonly stripeCount: number;
  readonly lastStripeBytes: number;
  readonly lastBlockSizeBytes: number;
  readonly shardSizeBytes: number;
}

/** The stripes that cover a byte range of an object, and where the range starts inside the first one. */
export interface StripeRange {
  readonly firstStripe: number;
  readonly lastStripe: number;
  /** Bytes to skip at the start of the first stripe's joined data. */
  readonly firstStripeSkipBytes: number;
}

function requireInteger(name: string, value: number, min: number): void {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new ErasureError('InvalidLayout', `${name} must be a safe integer >= ${min}, got ${value}`);
  }
}

// Rounded so stripes of shards produced by split() start on 8-byte boundaries, which the word kernels want.
const SHARD_ALIGN_BYTES = 8;

/** Layout of an object of objectSizeBytes over k data shards; an empty object has no stripes and empty shards. */
export function objectLayout(objectSizeBytes: number, dataShards: number, blockSizeBytes: number): ObjectLayout {
  requireInteger('objectSizeBytes', objectSizeBytes, 0);
  requireInteger('dataShards', dataShards, 1);
  requireInteger('blockSizeBytes', blockSizeBytes, 1);
  if (dataShards > 256) throw new ErasureError('InvalidLayout', `dataShards must be <= 256, got ${dataShards}`);
  const stripeBytes = dataShards * blockSizeBytes;
  requireInteger('dataShards * blockSizeBytes', stripeBytes, 1);
  const stripeCount = Math.ceil(objectSizeBytes / stripeBytes);
  const lastStripeBytes = stripeCount === 0 ? 0 : objectSizeBytes - (stripeCount - 1) * stripeBytes;
  const lastBlockSizeBytes = Math.ceil(lastStripeBytes / dataShards);
  const shardSizeBytes = stripeCount === 0 ? 0 : (stripeCount - 1) * blockSizeBytes + lastBlockSizeBytes;
  return { objectSizeBytes, dataShards, blockSizeBytes, stripeCount, lastStripeBytes, lastBlockSizeBytes, shardSizeBytes };
}

function requireStripe(layout: ObjectLayout, stripeIndex: number): void {
  if (!Number.isSafeInteger(stripeIndex) || stripeIndex < 0 || stripeIndex >= layout.stripeCount) {
    throw new ErasureError('InvalidLayout', `stripe ${stripeIndex} is outside 0..${layout.stripeCount - 1}`);
  }
}

/** Bytes of the object that stripe i holds (k × blockSizeBytes except for the last stripe). */
export function stripeDataBytes(layout: ObjectLayout, stripeIndex: number): number {
  requireStripe(layout, stripeIndex);
  return stripeIndex === layout.stripeCount - 1 ? layout.lastStripeBytes : layout.dataShards * layout.blockSizeBytes;
}

/** Per-shard block size of stripe i. */
export function stripeBlockSizeBytes(layout: ObjectLayout, stripeIndex: number): number {
  requireStripe(layout, stripeIndex);
  return stripeIndex === layout.stripeCount - 1 ? layout.lastBlockSizeBytes : layout.blockSizeBytes;
}

/** Offset of stripe i inside the object body. */
export function stripeObjectOffsetBytes(layout: ObjectLayout, stripeIndex: number): number {
  requireStripe(layout, stripeIndex);
  return stripeIndex * layout.dataShards * layout.blockSizeBytes;
}

/** Offset of stripe i's block inside every shard (all earlier blocks are full size). */
export function stripeShardOffsetBytes(layout: ObjectLayout, stripeIndex: number): number {
  requireStripe(layout, stripeIndex);
  return stripeIndex * layout.blockSizeBytes;
}

/** Stripes covering object bytes [offsetBytes, offsetBytes + lengthBytes); the range must be non-empty and inside. */
export function stripesForRange(layout: ObjectLayout, offsetBytes: number, lengthBytes: number): StripeRange {
  requireInteger('offsetBytes', offsetBytes, 0);
  requireInteger('lengthBytes', lengthBytes, 1);
  const endBytes = offsetBytes + lengthBytes;
  if (!Number.isSafeInteger(endBytes) || endBytes > layout.objectSizeBytes) {
    throw new ErasureError('InvalidLayout', `range ${offsetBytes}+${lengthBytes} exceeds object size ${layout.objectSizeBytes}`);
  }
  const stripeBytes = layout.dataShards * layout.blockSizeBytes;
  const firstStripe = Math.floor(offsetBytes / stripeBytes);
  const lastStripe = Math.floor((endBytes - 1) / stripeBytes);
  return { firstStripe, lastStripe, firstStripeSkipBytes: offsetBytes - firstStripe * stripeBytes };
}

/** Data bytes of a full stripe: k blocks of blockSizeBytes. */
export function fullStripeBytes(dataShards: number, blockSizeBytes: number): number {
  requireInteger('dataShards', dataShards, 1);
  requireInteger('blockSizeBytes', blockSizeBytes, 1);
  return dataShards * blockSizeBytes;
}

/** Per-shard block size of a stripe that holds dataBytes: ceil(dataBytes / k), the data zero padded to k blocks. */
export function blockBytesOf(dataBytes: number, dataShards: number): number {
  requireInteger('dataBytes', dataBytes, 0);
  requireInteger('dataShards', dataShards, 1);
  return Math.ceil(dataBytes / dataShards);
}

/** Bytes of one allocation that holds a stripe of dataBytes encoded: its k data blocks (padding included), then its m parity blocks. */
export function encodedStripeBytes(dataBytes: number, dataShards: number, parityShards: number): number {
  requireInteger('parityShards', parityShards, 0);
  return (dataShards + parityShards) * blockBytesOf(dataBytes, dataShards);
}

/**
 * The k + m blocks of a stripe laid out in one allocation of at least encodedStripeBytes: block i is
 * shard i's, data blocks first. The padding after the stripe's dataBytes is zeroed, so the parity
 * computed over the blocks does not depend on what the buffer held before.
 */
export function stripeBlocks(buffer: Uint8Array, dataBytes: number, dataShards: number, parityShards: number): Uint8Array[] {
  const blockBytes = blockBytesOf(dataBytes, dataShards);
  const needed = encodedStripeBytes(dataBytes, dataShards, parityShards);
  if (buffer.length < needed) throw new ErasureError('InvalidLayout', `a stripe of ${dataBytes} bytes needs ${needed} bytes, got ${buffer.length}`);
  buffer.fill(0, dataBytes, blockBytes * dataShards);
  const blocks: Uint8Array[] = [];
  for (let i = 0; i < dataShards + parityShards; i += 1) blocks.push(buffer.subarray(i * blockBytes, (i + 1) * blockBytes));
  return blocks;
}

/**
 * Cuts data into k shards of ceil(length / k) bytes, the last zero padded. Always copies into one fresh allocation,
 * so callers may reuse `data` at once; shards start on 8-byte boundaries of it.
 */
export function split(data: Uint8Array, dataShards: number): Uint8Array[] {
  requireInteger('dataShards', dataShards, 1);
  const shardBytes = Math.ceil(data.length / dataShards);
  const strideBytes = Math.ceil(shardBytes / SHARD_ALIGN_BYTES) * SHARD_ALIGN_BYTES;
  const backing = new Uint8Array(strideBytes * dataShards);
  const shards: Uint8Array[] = [];
  for (let i = 0; i < dataShards; i++) {
    const shard = backing.subarray(i * strideBytes, i * strideBytes + shardBytes);
    shard.set(data.subarray(Math.min(data.length, i * shardBytes), Math.min(data.length, (i + 1) * shardBytes)));
    shards.push(shard);
  }
  return shards;
}

/** Concatenates shards in order and keeps the first sizeBytes bytes (the padding split added is dropped). */
export function join(shards: readonly Uint8Array[], sizeBytes: number): Uint8Array {
  requireInteger('sizeBytes', sizeBytes, 0);
  const out = new Uint8Array(sizeBytes);
  let written = 0;
  for (const shard of shards) {
    if (written === sizeBytes) break;
    const take = Math.min(shard.length, sizeBytes - written);
    out.set(shard.subarray(0, take), written);
    written += take;
  }
  if (written < sizeBytes) {
    throw new ErasureError('InvalidLayout', `shards hold ${written} bytes, ${sizeBytes} requested`);
  }
  return out;
}
