import { createCipheriv, createDecipheriv, createHmac } from 'node:crypto';
import { TesseraError } from '../../common/index.js';
import { GCM_TAG_BYTES, type PackageCipher, type PackageKeyCipher, type PackageOpen, type PackageSeal } from './package-cipher.js';

/**
 * The encrypted body format (modelled on MinIO's DARE): the plaintext is cut into packages of
 * PACKAGE_PLAIN_BYTES, each sealed on its own with AES-256-GCM and stored as its ciphertext followed by
 * its 16-byte tag. A range read decrypts only the packages it touches. Every package authenticates
 * its index and whether it is the last one, under a key derived from the object's data key and its
 * random nonce: a flipped byte, a dropped tail, two packages swapped or a package taken from another
 * object (or another part of the same upload) all fail to open. The AES-256-GCM itself is a
 * PackageCipher (package-cipher.ts): the native addon where it runs, node:crypto everywhere; both write
 * the same bytes.
 */

/** Plaintext bytes per package (the last one may be shorter). */
export const PACKAGE_PLAIN_BYTES = 64 * 1024;
/** The GCM tag after each package's ciphertext. */
export const PACKAGE_TAG_BYTES = GCM_TAG_BYTES;
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

/** The nonce and AAD of package `index` (and, for a stream, the scratch for a tag that arrives in pieces), rewritten for each package: the ciphers copy them as a package begins. */
class PackageParams {
  readonly nonce = Buffer.alloc(12);
  readonly aad = Buffer.alloc(9);
  readonly tag = Buffer.alloc(PACKAGE_TAG_BYTES);

  /** Nonce: 6 zero bytes, then the index (48-bit big-endian). AAD: the final flag, 2 zero bytes, the index. */
  of(index: number, final: boolean): this {
    this.nonce.writeUIntBE(index, 6, 6);
    this.aad.writeUInt8(final ? 1 : 0, 0);
    this.aad.writeUIntBE(index, 3, 6);
    return this;
  }
}

/** Seals one package with node:crypto in one call: the format by definition, which the streaming ciphers are tested against. */
export function sealPackage(key: Uint8Array, index: number, final: boolean, plain: Uint8Array): Buffer {
  const { nonce, aad } = new PackageParams().of(index, final);
  const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: PACKAGE_TAG_BYTES });
  cipher.setAAD(aad);
  return Buffer.concat([cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
}

/** Opens one stored package (ciphertext then tag) with node:crypto, or throws PackageAuthError. */
export function openPackage(key: Uint8Array, index: number, final: boolean, stored: Uint8Array): Buffer {
  if (stored.length < PACKAGE_TAG_BYTES) throw new PackageAuthError(`package ${index} is truncated`);
  const cut = stored.length - PACKAGE_TAG_BYTES;
  const { nonce, aad } = new PackageParams().of(index, final);
  const decipher = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: PACKAGE_TAG_BYTES });
  decipher.setAAD(aad);
  decipher.setAuthTag(stored.subarray(cut));
  try {
    return Buffer.concat([decipher.update(stored.subarray(0, cut)), decipher.final()]);
  } catch {
    throw new PackageAuthError(`package ${index} failed authentication`);
  }
}

/**
 * Seals one package from pieces as they arrive: each piece goes straight through the cipher (never
 * gathered into a plaintext buffer first), and the ciphertext is held until `finish`. The plaintext
 * pieces are kept by reference, so a package sealed with the wrong final flag can be sealed again.
 */
class PackageSealer {
  readonly index: number;
  readonly final: boolean;
  private readonly seal: PackageSeal;
  private readonly plain: Uint8Array[] = [];
  fillBytes = 0;

  constructor(cipher: PackageKeyCipher, params: PackageParams, index: number, final: boolean, plainBytesHint: number) {
    this.index = index;
    this.final = final;
    params.of(index, final);
    this.seal = cipher.seal(params.nonce, params.aad, plainBytesHint);
  }

  update(piece: Uint8Array): void {
    this.plain.push(piece);
    this.fillBytes += piece.length;
    this.seal.update(piece);
  }

  /** The package's stored pieces (ciphertext, then tag) with its final flag `final`: resealed when it was begun with the other one. */
  finish(cipher: PackageKeyCipher, params: PackageParams, final: boolean): Uint8Array[] {
    if (final === this.final) return this.seal.finish();
    params.of(this.index, final);
    const again = cipher.seal(params.nonce, params.aad, this.fillBytes);
    for (const piece of this.plain) again.update(piece);
    return again.finish();
  }
}

/**
 * Encrypts a plaintext stream into the package format. Whether a package is the last is known for sure
 * only at the next byte (or the end); with the body's expected size each package is begun with the
 * right flag, and without it (or when the body turns out another size) only the last package is sealed
 * a second time. `plainBytes()` tells how much plaintext went through.
 */
export class PackageEncryptor {
  private readonly key: Buffer;
  private readonly cipher: PackageCipher;
  private plainCount = 0;

  constructor(dataKey: Uint8Array, objectNonce: Uint8Array, cipher: PackageCipher) {
    this.key = packageKey(dataKey, objectNonce);
    this.cipher = cipher;
  }

  /** Plaintext bytes encrypted so far (the whole body once the stream has ended). */
  plainBytes(): number {
    return this.plainCount;
  }

  /**
   * The stored body of `plaintext`, package by package (each as its ciphertext, then its tag).
   * `expectedPlainBytes`, when known, is a hint only: any other length still gives a correct body.
   */
  async *encrypt(plaintext: AsyncIterable<Uint8Array>, expectedPlainBytes?: number): AsyncGenerator<Uint8Array> {
    const lastIndex = expectedPlainBytes === undefined ? -1 : packageCount(expectedPlainBytes) - 1;
    const cipher = this.cipher.forKey(this.key);
    const params = new PackageParams();
    const begin = (index: number): PackageSealer => {
      const hint = index === lastIndex ? (expectedPlainBytes as number) - index * PACKAGE_PLAIN_BYTES : PACKAGE_PLAIN_BYTES;
      return new PackageSealer(cipher, params, index, index === lastIndex, hint);
    };
    try {
      let current = begin(0);
      for await (const piece of plaintext) {
        this.plainCount += piece.length;
        let at = 0;
        while (at < piece.length) {
          if (current.fillBytes === PACKAGE_PLAIN_BYTES) {
            // More bytes follow: the full package is not the last.
            yield* current.finish(cipher, params, false);
            current = begin(current.index + 1);
          }
          const n = Math.min(PACKAGE_PLAIN_BYTES - current.fillBytes, piece.length - at);
          current.update(at === 0 && n === piece.length ? piece : piece.subarray(at, at + n));
          at += n;
        }
      }
      yield* current.finish(cipher, params, true);
    } finally {
      cipher.close();
    }
  }
}

/**
 * Opens one stored package from pieces as they arrive: the ciphertext goes straight through the
 * cipher, only the tag is gathered, and no plaintext leaves before the tag has checked out.
 */
class PackageOpener {
  readonly index: number;
  private readonly opening: PackageOpen;
  private readonly params: PackageParams;
  private cipherLeftBytes: number;
  private tag: Uint8Array | undefined;
  private tagBytes = 0;

  constructor(cipher: PackageKeyCipher, params: PackageParams, index: number, final: boolean, storedBytes: number) {
    this.index = index;
    this.params = params;
    this.cipherLeftBytes = storedBytes - PACKAGE_TAG_BYTES;
    params.of(index, final);
    this.opening = cipher.open(params.nonce, params.aad, this.cipherLeftBytes);
  }

  /** Takes bytes of `piece` from `at` until the package is whole; returns how far it got. */
  take(piece: Uint8Array, at: number): number {
    if (this.cipherLeftBytes > 0) {
      const n = Math.min(this.cipherLeftBytes, piece.length - at);
      this.opening.update(at === 0 && n === piece.length ? piece : piece.subarray(at, at + n));
      this.cipherLeftBytes -= n;
      return at + n;
    }
    const n = Math.min(PACKAGE_TAG_BYTES - this.tagBytes, piece.length - at);
    if (n === PACKAGE_TAG_BYTES) {
      // The whole tag in one piece: read where it lies.
      this.tag = piece.subarray(at, at + n);
    } else {
      this.params.tag.set(piece.subarray(at, at + n), this.tagBytes);
      this.tag = this.params.tag;
    }
    this.tagBytes += n;
    return at + n;
  }

  get whole(): boolean {
    return this.tagBytes === PACKAGE_TAG_BYTES;
  }

  /** The package's plaintext, once whole and authenticated; throws PackageAuthError otherwise. */
  open(): Uint8Array[] {
    const plain = this.tag === undefined ? undefined : this.opening.finish(this.tag);
    if (plain === undefined) throw new PackageAuthError(`package ${this.index} failed authentication`);
    return plain;
  }
}

/** What decryptRange reads: a body's key, nonce and plaintext size, and the plaintext range wanted. */
export interface DecryptRangeOptions {
  cipher: PackageCipher;
  dataKey: Uint8Array;
  objectNonce: Uint8Array;
  plainBytes: number;
  offsetBytes: number;
  lengthBytes: number;
}

/**
 * Decrypts the stored bytes of a range (storedRange's packages) and yields exactly plaintext bytes
 * [offset, offset + length) of a body of `plainBytes`. Throws PackageAuthError on any package that does
 * not open, and on a stored stream that ends early or runs long.
 */
export async function* decryptRange(stored: AsyncIterable<Uint8Array>, options: DecryptRangeOptions): AsyncGenerator<Uint8Array> {
  const { plainBytes, offsetBytes, lengthBytes } = options;
  const range = storedRange(plainBytes, offsetBytes, lengthBytes);
  const finalIndex = packageCount(plainBytes) - 1;
  const storedSizeOf = (index: number): number =>
    index < finalIndex ? PACKAGE_STORED_BYTES : plainBytes - finalIndex * PACKAGE_PLAIN_BYTES + PACKAGE_TAG_BYTES;
  const cipher = options.cipher.forKey(packageKey(options.dataKey, options.objectNonce));
  const params = new PackageParams();
  const begin = (index: number): PackageOpener => new PackageOpener(cipher, params, index, index === finalIndex, storedSizeOf(index));
  let skip = range.skipBytes;
  let remaining = lengthBytes;
  try {
    let current: PackageOpener | undefined = begin(range.firstPackage);
    for await (const piece of stored) {
      let at = 0;
      while (at < piece.length) {
        if (current === undefined) throw new PackageAuthError('the stored body is longer than its packages');
        at = current.take(piece, at);
        if (!current.whole) continue;
        for (const plain of current.open()) {
          if (skip >= plain.length) {
            skip -= plain.length;
            continue;
          }
          const out = plain.subarray(skip, skip + Math.min(remaining, plain.length - skip));
          skip = 0;
          remaining -= out.length;
          if (out.length > 0) yield out;
        }
        current = current.index < range.lastPackage ? begin(current.index + 1) : undefined;
      }
    }
    if (current !== undefined) throw new PackageAuthError(`the stored body ends inside package ${current.index}`);
    if (remaining !== 0) throw new PackageAuthError('the stored body is shorter than its size');
  } finally {
    cipher.close();
  }
}
