import { DigestHashers, type BodyDigests, type DigestSpec } from './digest-hashers.js';
import type { DigestPool, DigestStream } from './digest-pool.js';

/**
 * Bodies up to this size are hashed on the request thread: a round trip to a worker costs more than
 * hashing them. Larger ones go to a digest worker, from their first byte.
 */
export const INLINE_DIGEST_MAX_BYTES = 256 * 1024;

/**
 * The digests of one body as it streams past (MD5, and SHA-256 and a flexible checksum when asked).
 * The first INLINE_DIGEST_MAX_BYTES are only remembered (the pieces, not copies: callers never modify
 * a piece once passed on); a body that ends within them is hashed here, a longer one is handed to a
 * worker of `pool` and hashed there while the request thread encodes and sends. Without a pool,
 * everything is hashed here as it arrives.
 */
export class BodyDigest {
  private readonly spec: DigestSpec;
  private readonly pool: DigestPool | undefined;
  private window: Uint8Array[] = [];
  private windowBytes = 0;
  private stream: DigestStream | undefined;
  private inline: DigestHashers | undefined;

  constructor(spec: DigestSpec, pool: DigestPool | undefined) {
    this.spec = spec;
    this.pool = pool;
    if (pool === undefined) this.inline = new DigestHashers(spec);
  }

  /** Feeds more of the body; false when the worker is behind and the caller should await ready() before more. */
  update(data: Uint8Array): boolean {
    if (data.length === 0) return true;
    if (this.stream !== undefined) return this.stream.write(data);
    if (this.inline !== undefined) {
      this.inline.update(data);
      return true;
    }
    this.window.push(data);
    this.windowBytes += data.length;
    if (this.windowBytes <= INLINE_DIGEST_MAX_BYTES || this.pool === undefined) return true;
    const stream = this.pool.open(this.spec);
    this.stream = stream;
    let ready = true;
    for (const piece of this.window) ready = stream.write(piece);
    this.window = [];
    return ready;
  }

  /** Resolves when more may be fed. */
  ready(): Promise<void> {
    return this.stream?.ready() ?? Promise.resolve();
  }

  /** The digests of everything fed; call once, after the last update. */
  async digests(): Promise<BodyDigests> {
    if (this.stream !== undefined) return this.stream.end();
    const hashers = this.inline ?? new DigestHashers(this.spec);
    for (const piece of this.window) hashers.update(piece);
    this.window = [];
    return hashers.finish();
  }

  /** Gives up on the body (it failed): frees what the worker holds for it. */
  abandon(): void {
    this.stream?.drop();
    this.window = [];
  }
}
