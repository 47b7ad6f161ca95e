import { createCipheriv, createDecipheriv } from 'node:crypto';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { GCM_TAG_BYTES, type PackageCipher, type PackageKeyCipher, type PackageOpen, type PackageSeal } from './package-cipher.js';

/**
 * The package format's AES-256-GCM on the native addon (native/package-gcm.c): one OpenSSL context per
 * package key keeps its key schedule, each package only resets the IV, and each piece is encrypted or
 * decrypted into one buffer per package, allocated uninitialised. node:crypto instead builds a cipher
 * object and an OpenSSL context per package, and allocates, zero-fills and copies an output per piece.
 * The addon runs on the OpenSSL inside Node (it is not linked with one of its own).
 */

/** Where `npm run build:native` puts the addon: src/ (tsx) and dist/ are both three levels below the root. */
export const NATIVE_ADDON_PATH = fileURLToPath(new URL('../../../native/build/package-gcm.node', import.meta.url));

/** The addon's functions (see native/package-gcm.c); a context is an opaque external. */
interface GcmAddon {
  context(key: Uint8Array): unknown;
  begin(context: unknown, nonce: Uint8Array, aad: Uint8Array, encrypt: boolean): void;
  update(context: unknown, input: Uint8Array, output: Uint8Array, outputOffset: number): void;
  sealFinal(context: unknown, output: Uint8Array, tagOffset: number): void;
  openFinal(context: unknown, tag: Uint8Array): boolean;
  free(context: unknown): void;
}

/** One OpenSSL context under one key; a package may use it only while it is the latest begun. */
class NativeKeyCipher implements PackageKeyCipher {
  private readonly addon: GcmAddon;
  private readonly context: unknown;
  private begun = 0;
  private closed = false;

  constructor(addon: GcmAddon, key: Uint8Array) {
    this.addon = addon;
    this.context = addon.context(key);
  }

  seal(nonce: Uint8Array, aad: Uint8Array, plainBytesHint: number): PackageSeal {
    return new NativeSeal(this, this.begin(nonce, aad, true), plainBytesHint);
  }

  open(nonce: Uint8Array, aad: Uint8Array, cipherBytes: number): PackageOpen {
    return new NativeOpen(this, this.begin(nonce, aad, false), cipherBytes);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.addon.free(this.context);
  }

  private begin(nonce: Uint8Array, aad: Uint8Array, encrypt: boolean): number {
    if (this.closed) throw new Error('the package cipher is closed');
    this.addon.begin(this.context, nonce, aad, encrypt);
    this.begun += 1;
    return this.begun;
  }

  /** Refuses package `turn` once another package has begun on this key, or the key is closed. */
  private live(turn: number): void {
    if (turn !== this.begun || this.closed) throw new Error('a package was used after the next one began on its key');
  }

  update(turn: number, input: Uint8Array, output: Uint8Array, outputOffset: number): void {
    this.live(turn);
    this.addon.update(this.context, input, output, outputOffset);
  }

  sealFinal(turn: number, output: Uint8Array, tagOffset: number): void {
    this.live(turn);
    this.addon.sealFinal(this.context, output, tagOffset);
  }

  openFinal(turn: number, tag: Uint8Array): boolean {
    this.live(turn);
    return this.addon.openFinal(this.context, tag);
  }
}

/** A package's ciphertext and tag in one buffer, sized by the hint and grown when the package outgrows it. */
class NativeSeal implements PackageSeal {
  private readonly key: NativeKeyCipher;
  private readonly turn: number;
  private out: Buffer;
  private fillBytes = 0;

  constructor(key: NativeKeyCipher, turn: number, plainBytesHint: number) {
    this.key = key;
    this.turn = turn;
    // A hint is only a hint: a nonsensical one starts small and the buffer grows.
    this.out = Buffer.allocUnsafe((Number.isSafeInteger(plainBytesHint) && plainBytesHint > 0 ? plainBytesHint : 0) + GCM_TAG_BYTES);
  }

  update(plain: Uint8Array): void {
    const needed = this.fillBytes + plain.length + GCM_TAG_BYTES;
    if (needed > this.out.length) {
      const grown = Buffer.allocUnsafe(Math.max(needed, 2 * this.out.length));
      this.out.copy(grown, 0, 0, this.fillBytes);
      this.out = grown;
    }
    this.key.update(this.turn, plain, this.out, this.fillBytes);
    this.fillBytes += plain.length;
  }

  finish(): Uint8Array[] {
    this.key.sealFinal(this.turn, this.out, this.fillBytes);
    return [this.out.subarray(0, this.fillBytes + GCM_TAG_BYTES)];
  }
}

/** A package's plaintext in one buffer, handed out only once the tag checks out. */
class NativeOpen implements PackageOpen {
  private readonly key: NativeKeyCipher;
  private readonly turn: number;
  private readonly out: Buffer;
  private fillBytes = 0;

  constructor(key: NativeKeyCipher, turn: number, cipherBytes: number) {
    this.key = key;
    this.turn = turn;
    this.out = Buffer.allocUnsafe(cipherBytes);
  }

  update(ciphertext: Uint8Array): void {
    if (this.fillBytes + ciphertext.length > this.out.length) throw new RangeError('more ciphertext than the package holds');
    this.key.update(this.turn, ciphertext, this.out, this.fillBytes);
    this.fillBytes += ciphertext.length;
  }

  finish(tag: Uint8Array): Uint8Array[] | undefined {
    if (this.key.openFinal(this.turn, tag)) return [this.out.subarray(0, this.fillBytes)];
    // Unauthenticated plaintext is not handed out, nor left lying in memory.
    this.out.fill(0);
    return undefined;
  }
}

/**
 * Checks a freshly loaded addon against node:crypto: two packages under one key (so the kept key
 * schedule and the IV reset are exercised), pieces of odd sizes, sealed and opened, and a flipped tag
 * refused. Returns what went wrong, or undefined.
 */
function selfTest(cipher: PackageCipher): string | undefined {
  const key = Buffer.from(Array.from({ length: 32 }, (_, i) => i * 11 + 5));
  const plain = Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 31 + 7) & 0xff));
  const keyed = cipher.forKey(key);
  try {
    const packages: [index: number, cuts: number[]][] = [[1, [0, 1, 500, 499]], [2, [1000]], [3, []]];
    for (const [index, cuts] of packages) {
      const nonce = Buffer.alloc(12, index);
      const aad = Buffer.alloc(9, index + 100);
      const body = plain.subarray(0, cuts.reduce((sum, n) => sum + n, 0));
      const reference = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: GCM_TAG_BYTES }).setAAD(aad);
      const expected = Buffer.concat([reference.update(body), reference.final(), reference.getAuthTag()]);
      const seal = keyed.seal(nonce, aad, 100);
      let at = 0;
      for (const n of cuts) {
        seal.update(body.subarray(at, at + n));
        at += n;
      }
      const stored = Buffer.concat(seal.finish());
      if (!stored.equals(expected)) return `package ${index} sealed to other bytes than node:crypto's`;
      const open = keyed.open(nonce, aad, body.length);
      const split = Math.min(7, body.length);
      open.update(stored.subarray(0, split));
      open.update(stored.subarray(split, body.length));
      const opened = open.finish(stored.subarray(body.length));
      if (opened === undefined || !Buffer.concat(opened).equals(body)) return `package ${index} did not open to its plaintext`;
      const check = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: GCM_TAG_BYTES }).setAAD(aad).setAuthTag(stored.subarray(body.length));
      if (!Buffer.concat([check.update(stored.subarray(0, body.length)), check.final()]).equals(body)) return `node:crypto did not open package ${index}`;
      const forged = Buffer.from(stored.subarray(body.length));
      forged[0] = (forged[0] as number) ^ 1;
      const refused = keyed.open(nonce, aad, body.length);
      refused.update(stored.subarray(0, body.length));
      if (refused.finish(forged) !== undefined) return `package ${index} opened under a flipped tag`;
    }
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  } finally {
    keyed.close();
  }
}

/**
 * The native cipher, or why it cannot run here: not built, not loadable (another platform, OpenSSL's
 * symbols missing from this Node), or its output differs from node:crypto's. Not cached: the module
 * system keeps the loaded addon, and the self-test costs microseconds.
 */
export function loadNativePackageCipher(path: string = NATIVE_ADDON_PATH): { cipher: PackageCipher } | { reason: string } {
  let addon: GcmAddon;
  try {
    addon = createRequire(import.meta.url)(path) as GcmAddon;
  } catch (err) {
    if ((err as { code?: unknown }).code === 'MODULE_NOT_FOUND') return { reason: `the addon is not built (no ${path}; npm run build:native)` };
    return { reason: `${path} does not load: ${err instanceof Error ? err.message : String(err)}` };
  }
  const cipher: PackageCipher = { backend: 'native', forKey: (key) => new NativeKeyCipher(addon, key) };
  const failure = selfTest(cipher);
  return failure === undefined ? { cipher } : { reason: `${path} failed its self-test: ${failure}` };
}
