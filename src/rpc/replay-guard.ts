import { MAX_SIGNATURE_SKEW_MS, readSignedHeaders } from './signing.js';

/** Why a signed request was refused as a replay; `null` when it is admitted. `malformed`: its signed headers are not in canonical form. */
export type ReplayProblem = 'replayed' | 'before-start' | 'too-many' | 'malformed';

/**
 * Makes a signed request usable once. A streamed shard body is not covered by its signature
 * (hashing it first would cost a pass over every byte), so without this a captured shard PUT could
 * be sent again, within the signature window, with another body. Every signature a node accepts for
 * such a request is remembered until it is too old to pass the time check anyway, and seen again is
 * refused. A signature is remembered by its decoded bytes, never by the header's text: were a second
 * spelling of the same bytes ever to verify, it would still be the same signature here. Signatures from before the guard existed (the node's start) are refused too: a restart
 * forgets what was seen, and anything captured was signed before it.
 */
export class ReplayGuard {
  private readonly seen = new Map<string, number>();
  private readonly notBeforeMs: number;
  private readonly maxEntries: number;

  /** `startMs` is the node's wall-clock start; at most `maxEntries` signatures are held (past that, new ones are refused). */
  constructor(options: { startMs: number; maxEntries?: number }) {
    this.notBeforeMs = options.startMs;
    this.maxEntries = options.maxEntries ?? 1_000_000;
  }

  /** Signatures remembered now. */
  get size(): number {
    return this.seen.size;
  }

  /** Admits a request (its decoded signature and signed time) once; the signature must already have been verified. */
  admit(signature: Uint8Array, signedMs: number, nowMs: number): ReplayProblem | null {
    this.forget(nowMs);
    if (signedMs < this.notBeforeMs) return 'before-start';
    const key = Buffer.from(signature.buffer, signature.byteOffset, signature.byteLength).toString('base64');
    if (this.seen.has(key)) return 'replayed';
    if (this.seen.size >= this.maxEntries) return 'too-many';
    this.seen.set(key, signedMs);
    return null;
  }

  /** Admits a verified request once by its signed headers (Node's `headersDistinct`), read as verifyRequestSignature reads them. */
  admitSigned(headers: Record<string, string | string[] | undefined>, nowMs: number): ReplayProblem | null {
    const signed = readSignedHeaders(headers);
    if (typeof signed === 'string') return 'malformed';
    return this.admit(signed.signature, signed.dateMs, nowMs);
  }

  /** Drops signatures the time check refuses by now; oldest first (insertion order is close to signed order). */
  private forget(nowMs: number): void {
    const oldestValidMs = nowMs - MAX_SIGNATURE_SKEW_MS;
    for (const [signature, signedMs] of this.seen) {
      if (signedMs >= oldestValidMs) return;
      this.seen.delete(signature);
    }
  }
}
