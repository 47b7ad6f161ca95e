import { encodedStripeBytes, fullStripeBytes, stripeBlocks, type Codec } from '../../erasure/index.js';
import type { ErasureParams } from '../../rpc/index.js';
import type { ShardFanOut } from './shard-fan-out.js';
import type { StripePool } from './stripe-pool.js';

/**
 * Stripes queued to the nodes and not yet taken by all of them, while the next one is filled and
 * encoded: two keep every connection busy while the gateway encodes, and bound a request's memory
 * (about three stripe buffers) whatever the object size.
 */
const MAX_STRIPES_QUEUED = 2;

/** Smallest first buffer for a body of unknown size; it grows by doubling up to a whole stripe. */
const MIN_UNKNOWN_SIZE_BYTES = 64 * 1024;

/**
 * One stripe being filled: data goes to [0, capacity); when sent, its blocks and parity are laid out
 * in the same allocation (erasure/layout.ts, stripeBlocks).
 */
interface OpenStripe {
  buffer: Uint8Array;
  capacityBytes: number;
  fillBytes: number;
  pooled: boolean;
}

/** What a StripeAssembler works with. */
export interface AssemblerOptions {
  erasure: ErasureParams;
  codec: Codec;
  fanOut: Pick<ShardFanOut, 'room' | 'send'>;
  /** Reusable full-stripe buffers; without one, every stripe is a fresh allocation. */
  pool?: StripePool | undefined;
  /** The body size when known: sizes a short object's only stripe exactly. */
  expectedSizeBytes?: number | undefined;
}

/**
 * Cuts a body into stripes of k × blockSizeBytes, encodes each, and hands its blocks to the fan-out,
 * waiting while MAX_STRIPES_QUEUED stripes are queued. The first stripe (and a short last one) is
 * sized by what the body will hold, not by the stripe: a declared size sizes it exactly, an unknown
 * one starts small and doubles.
 */
export class StripeAssembler {
  /** Bytes of the body taken so far. */
  sizeBytes = 0;
  private readonly options: AssemblerOptions;
  private readonly stripeBytes: number;
  private stripe: OpenStripe | undefined;

  constructor(options: AssemblerOptions) {
    this.options = options;
    this.stripeBytes = fullStripeBytes(options.erasure.dataShards, options.erasure.blockSizeBytes);
  }

  /** Takes one piece of the body; sends every stripe it fills. */
  async write(piece: Uint8Array): Promise<void> {
    let offset = 0;
    this.sizeBytes += piece.length;
    while (offset < piece.length) {
      let stripe = this.stripe ?? (await this.open(piece.length - offset));
      if (stripe.fillBytes === stripe.capacityBytes) stripe = this.grow(stripe, piece.length - offset);
      this.stripe = stripe;
      const take = Math.min(stripe.capacityBytes - stripe.fillBytes, piece.length - offset);
      stripe.buffer.set(piece.subarray(offset, offset + take), stripe.fillBytes);
      stripe.fillBytes += take;
      offset += take;
      if (stripe.fillBytes === this.stripeBytes) {
        this.send(stripe);
        this.stripe = undefined;
      }
    }
  }

  /** The body has ended: sends its short last stripe, if any. */
  end(): void {
    if (this.stripe !== undefined && this.stripe.fillBytes > 0) this.send(this.stripe);
    this.stripe = undefined;
  }

  private async open(arrivingBytes: number): Promise<OpenStripe> {
    await this.options.fanOut.room(MAX_STRIPES_QUEUED);
    const storedBytes = this.sizeBytes - arrivingBytes;
    const expected = this.options.expectedSizeBytes;
    // A body longer than declared fails its checks later; until then its stripe grows like an unknown one.
    if (expected !== undefined && expected > storedBytes) return this.allocate(expected - storedBytes);
    return this.allocate(Math.max(MIN_UNKNOWN_SIZE_BYTES, arrivingBytes));
  }

  private allocate(capacityBytes: number): OpenStripe {
    const { dataShards, parityShards } = this.options.erasure;
    const { pool } = this.options;
    if (capacityBytes >= this.stripeBytes && pool !== undefined) {
      const bytes = encodedStripeBytes(this.stripeBytes, dataShards, parityShards);
      return { buffer: pool.acquire(bytes), capacityBytes: this.stripeBytes, fillBytes: 0, pooled: true };
    }
    const capacity = Math.min(capacityBytes, this.stripeBytes);
    const bytes = encodedStripeBytes(capacity, dataShards, parityShards);
    return { buffer: new Uint8Array(Buffer.allocUnsafeSlow(bytes).buffer, 0, bytes), capacityBytes: capacity, fillBytes: 0, pooled: false };
  }

  private grow(current: OpenStripe, wantBytes: number): OpenStripe {
    const next = this.allocate(Math.max(current.capacityBytes * 2, current.fillBytes + wantBytes));
    next.buffer.set(current.buffer.subarray(0, current.fillBytes));
    next.fillBytes = current.fillBytes;
    return next;
  }

  private send(current: OpenStripe): void {
    const { dataShards, parityShards } = this.options.erasure;
    const blocks = stripeBlocks(current.buffer, current.fillBytes, dataShards, parityShards);
    this.options.codec.encode(blocks);
    this.options.fanOut.send(blocks, current.pooled ? current.buffer : undefined);
  }
}
