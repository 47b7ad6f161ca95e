import { createCipheriv, createDecipheriv, createHmac } from 'node:crypto';
import { TesseraError } from '../../common/index.js';

/**
 * The encrypted body format (modelled on MinIO's DARE): the plaintext is cut into packages of
 * PACKAGE_PLAIN_BYTES, each sealed on its own with AES-256-GCM and stored as its ciphertext followed by
 * its 16-byte tag. A range read decrypts only the packages it touches. Every package authenticates
 * its index and whether it is the last one, under a key derived from the object's data key and its
 * random nonce: a flipped byte, a dropped tail, two packages swapped or a package taken from another
 * object (or another part of the same upload) all fail to open.
 */

/** Plaintext bytes per package (the last one may be shorter). */
export const PACKAGE_PLAIN_BYTES = 64 * 1024;
/** The GCM tag after each package's ciphertext. */
export const PACKAGE_TAG_BYTES = 16;
/** Stored bytes of a full package. */
export const PACKAGE_STORED_BYTES = PACKAGE_PLAIN_BYTES + PACKAGE_TAG_BYTES;
/** Bytes of a data key (AES-256). */
export const DATA_KEY_BYTES = 32;
/** Bytes of an object's random nonce. */
export const OBJECT_NONCE_BYTES = 16;

/** A package failed authentication, or the stored body has the wrong length: the bytes are not the ones written. */
export class PackageAuthError extends TesseraError<'PackageAuthFailed'> {
  constructor(message: string) {
    super('PackageAuthFailed', message);
  }
}

/** The package key of one object: the data key bound to the object's (or part's) own nonce. */
export function packageKey(dataKey: Uint8Array, objectNonce: Uint8Array): Buffer {
  if (dataKey.length !== DATA_KEY_BYTES) throw new RangeError(`a data key has ${DATA_KEY_BYTES} bytes`);
  return createHmac('sha256', dataKey).update('tessera-sse-package-key\0').update(objectNonce).digest();
}

/** Packages a body of `plainBytes` is stored as: an empty body is one empty (tag-only) package. */
export function packageCount(plainBytes: number): number {
  return Math.max(1, Math.ceil(plainBytes / PACKAGE_PLAIN_BYTES));
}

/** Stored (encrypted) size of a body of `plainBytes`. */
export function storedSize(plainBytes: number): number {
  return plainBytes + packageCount(plainBytes) * PACKAGE_TAG_BYTES;
}

/** Plaintext size of a stored body of `storedBytes`, or throws when no plaintext size gives that length. */
export function plainSize(storedBytes: number): number {
  const full = Math.floor(storedBytes / PACKAGE_STORED_BYTES);
  const rest = storedBytes - full * PACKAGE_STORED_BYTES;
  const plain = full * PACKAGE_PLAIN_BYTES + Math.max(0, rest - PACKAGE_TAG_BYTES);
  if (storedSize(plain) !== storedBytes) throw new PackageAuthError(`no plaintext is stored as ${storedBytes} bytes`);
  return plain;
}

/** Where a plaintext range lies in the stored body, and what to keep of the packages read. */
export interface StoredRange {
  firstPackage: number;
  /** Last package read, inclusive. */
  lastPackage: number;
  storedOffsetBytes: number;
  storedLengthBytes: number;
  /** Plaintext bytes to drop from the front of the first package. */
  skipBytes: number;
}

/** Maps plaintext bytes [offset, offset + length) of a body of `plainBytes` to the packages that hold them. */
export function storedRange(plainBytes: number, offsetBytes: number, lengthBytes: number): StoredRange {
  if (offsetBytes < 0 || lengthBytes < 0 || offsetBytes + lengthBytes > plainBytes) {
    throw new RangeError(`bytes ${offsetBytes}+${lengthBytes} are outside a body of ${plainBytes}`);
  }
  const lastIndex = packageCount(plainBytes) - 1;
  const firstPackage = Math.min(lastIndex, Math.floor(offsetBytes / PACKAGE_PLAIN_BYTES));
  const lastPackage = lengthBytes === 0 ? firstPackage : Math.floor((offsetBytes + lengthBytes - 1) / PACKAGE_PLAIN_BYTES);
  const storedOffsetBytes = firstPackage * PACKAGE_STORED_BYTES;
  const storedEnd = Math.min(storedSize(plainBytes), (lastPackage + 1) * PACKAGE_STORED_BYTES);
  return { firstPackage, lastPackage, storedOffsetBytes, storedLengthBytes: storedEnd - storedOffsetBytes, skipBytes: offsetBytes - firstPackage * PACKAGE_PLAIN_BYTES };
}

function nonceOf(index: number): Buffer {
  const nonce = Buffer.alloc(12);
  nonce.writeUIntBE(index, 6, 6);
  return nonce;
}

function aadOf(index: number, final: boolean): Buffer {
  const aad = Buffer.alloc(9);
  aad.writeUInt8(final ? 1 : 0, 0);
  aad.writeUIntBE(index, 3, 6);
  return aad;
}

/** Seals one package: its ciphertext and its tag, as pieces (never copied into one buffer). */
function sealPieces(key: Uint8Array, index: number, final: boolean, plain: Uint8Array): Buffer[] {
  const cipher = createCipheriv('aes-256-gcm', key, nonceOf(index), { authTagLength: PACKAGE_TAG_BYTES });
  cipher.setAAD(aadOf(index, final));
  const head = cipher.update(plain);
  const tail = cipher.final();
  return tail.length === 0 ? [head, cipher.getAuthTag()] : [head, tail, cipher.getAuthTag()];
}

/** Seals one package: its ciphertext followed by its tag. */
export function sealPackage(key: Uint8Array, index: number, final: boolean, plain: Uint8Array): Buffer {
  return Buffer.concat(sealPieces(key, index, final, plain));
}

/** Opens one stored package (ciphertext then tag), or throws PackageAuthError. */
export function openPackage(key: Uint8Array, index: number, final: boolean, stored: Uint8Array): Buffer {
  if (stored.length < PACKAGE_TAG_BYTES) throw new PackageAuthError(`package ${index} is truncated`);
  const cut = stored.length - PACKAGE_TAG_BYTES;
  const decipher = createDecipheriv('aes-256-gcm', key, nonceOf(index), { authTagLength: PACKAGE_TAG_BYTES });
  decipher.setAAD(aadOf(index, final));
  decipher.setAuthTag(stored.subarray(cut));
  try {
    const head = decipher.update(stored.subarray(0, cut));
    const tail = decipher.final();
    return tail.length === 0 ? head : Buffer.concat([head, tail]);
  } catch {
    throw new PackageAuthError(`package ${index} failed authentication`);
  }
}

/** Collects a stream's pieces into packages of `size` bytes (the last may be shorter); holds at most one package. */
class Packer {
  /** Allocated on first use: a package found whole inside one piece never needs it. */
  private buffer: Buffer | undefined;
  private fill = 0;
  private readonly size: number;

  constructor(size: number) {
    this.size = size;
  }

  get filledBytes(): number {
    return this.fill;
  }

  /** Copies from `piece` starting at `from` until the package is full; returns how far it got. */
  take(piece: Uint8Array, from: number): number {
    this.buffer ??= Buffer.allocUnsafe(this.size);
    const n = Math.min(this.size - this.fill, piece.length - from);
    this.buffer.set(piece.subarray(from, from + n), this.fill);
    this.fill += n;
    return from + n;
  }

  get full(): boolean {
    return this.fill === this.size;
  }

  /** The package collected so far; the packer starts a new one (the returned view stays valid). */
  flush(): Buffer {
    const out = this.buffer === undefined ? Buffer.alloc(0) : this.buffer.subarray(0, this.fill);
    this.buffer = undefined;
    this.fill = 0;
    return out;
  }
}

/**
 * Encrypts a plaintext stream into the package format. A full package is held back until the next
 * byte (or the end) shows whether it is the last. `plainBytes()` tells how much plaintext went through.
 */
export class PackageEncryptor {
  private readonly key: Buffer;
  private plainCount = 0;

  constructor(dataKey: Uint8Array, objectNonce: Uint8Array) {
    this.key = packageKey(dataKey, objectNonce);
  }

  /** Plaintext bytes encrypted so far (the whole body once the stream has ended). */
  plainBytes(): number {
    return this.plainCount;
  }

  /** The stored body of `plaintext`, package by package (each as its ciphertext, then its tag). */
  async *encrypt(plaintext: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
    const packer = new Packer(PACKAGE_PLAIN_BYTES);
    let held: Uint8Array | undefined;
    let index = 0;
    for await (const piece of plaintext) {
      this.plainCount += piece.length;
      let at = 0;
      while (at < piece.length) {
        if (held !== undefined) {
          yield* sealPieces(this.key, index, false, held);
          index += 1;
          held = undefined;
        }
        if (packer.filledBytes === 0 && piece.length - at >= PACKAGE_PLAIN_BYTES) {
          // A whole package inside this piece: sealed from the piece itself, not copied first.
          held = piece.subarray(at, at + PACKAGE_PLAIN_BYTES);
          at += PACKAGE_PLAIN_BYTES;
          continue;
        }
        at = packer.take(piece, at);
        if (packer.full) held = packer.flush();
      }
    }
    if (held !== undefined && packer.filledBytes === 0) {
      yield* sealPieces(this.key, index, true, held);
      return;
    }
    if (held !== undefined) {
      yield* sealPieces(this.key, index, false, held);
      index += 1;
    }
    yield* sealPieces(this.key, index, true, packer.flush());
  }
}

/**
 * Decrypts the stored bytes of a range (storedRange's packages) and yields exactly plaintext bytes
 * [offset, offset + length) of a body of `plainBytes`. Throws PackageAuthError on any package that does
 * not open, and on a stored stream that ends early or runs long.
 */
export async function* decryptRange(
  stored: AsyncIterable<Uint8Array>,
  dataKey: Uint8Array,
  objectNonce: Uint8Array,
  plainBytes: number,
  offsetBytes: number,
  lengthBytes: number,
): AsyncGenerator<Uint8Array> {
  const key = packageKey(dataKey, objectNonce);
  const range = storedRange(plainBytes, offsetBytes, lengthBytes);
  const finalIndex = packageCount(plainBytes) - 1;
  const storedSizeOf = (index: number): number =>
    index < finalIndex ? PACKAGE_STORED_BYTES : plainBytes - finalIndex * PACKAGE_PLAIN_BYTES + PACKAGE_TAG_BYTES;
  let index = range.firstPackage;
  let skip = range.skipBytes;
  let remaining = lengthBytes;
  let packer = new Packer(storedSizeOf(index));
  const emit = function* (plain: Buffer): Generator<Uint8Array> {
    const piece = plain.subarray(skip, skip + Math.min(remaining, plain.length - skip));
    skip = 0;
    remaining -= piece.length;
    if (piece.length > 0) yield piece;
  };
  for await (const piece of stored) {
    let at = 0;
    while (at < piece.length) {
      if (index > range.lastPackage) throw new PackageAuthError('the stored body is longer than its packages');
      const size = storedSizeOf(index);
      let whole: Uint8Array | undefined;
      if (packer.filledBytes === 0 && piece.length - at >= size) {
        // The whole package is inside this piece: opened in place, not copied first.
        whole = piece.subarray(at, at + size);
        at += size;
      } else {
        at = packer.take(piece, at);
        if (packer.full) whole = packer.flush();
      }
      if (whole !== undefined) {
        yield* emit(openPackage(key, index, index === finalIndex, whole));
        index += 1;
        if (index <= range.lastPackage) packer = new Packer(storedSizeOf(index));
      }
    }
  }
  if (index <= range.lastPackage) throw new PackageAuthError(`the stored body ends inside package ${index}`);
  if (remaining !== 0) throw new PackageAuthError('the stored body is shorter than its size');
}
