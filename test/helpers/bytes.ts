import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';

/** Deterministic pseudo-random bytes: the same seed and size always give the same content. */
export function seededBytes(sizeBytes: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(sizeBytes);
  let state = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < sizeBytes; i += 1) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    out[i] = state & 0xff;
  }
  return out;
}

/** A seeded xorshift generator of numbers in [0, 1): the same seed always gives the same sequence, so a failing run can be replayed by its seed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
}

/** MD5 hex of bytes. */
export function md5Hex(bytes: Uint8Array): string {
  return createHash('md5').update(bytes).digest('hex');
}

/** Reads a stream (or SDK body) fully. */
export async function collect(body: AsyncIterable<Uint8Array> | Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}

/** A random bucket name that is valid for S3. */
export function bucketName(prefix = 'bucket'): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}
