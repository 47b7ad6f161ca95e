import { createCipheriv, createDecipheriv, type CipherGCM, type DecipherGCM } from 'node:crypto';

/**
 * The AES-256-GCM under the package format, behind one small interface with two implementations:
 * node:crypto (everywhere) and the native addon (native-package-cipher.ts, where it was built). The
 * format itself (nonces, AAD, sizes) stays in package-format.ts; a cipher only seals and opens one
 * package at a time under one key, streaming: pieces go in as they arrive and are never written to.
 */

/** Names of the AES-256-GCM implementations. */
export type AesBackend = 'native' | 'node';

/** Bytes of a GCM tag as the format stores it. */
export const GCM_TAG_BYTES = 16;

/** One package being sealed. */
export interface PackageSeal {
  /** Encrypts the next plaintext piece (read, never written). */
  update(plain: Uint8Array): void;
  /** The stored package, its ciphertext then its tag, as one or more pieces. */
  finish(): Uint8Array[];
}

/** One package being opened: nothing of its plaintext is handed out before its tag checks out. */
export interface PackageOpen {
  /** Decrypts the next ciphertext piece (read, never written). */
  update(ciphertext: Uint8Array): void;
  /** The package's plaintext when `tag` authenticates it, else undefined. */
  finish(tag: Uint8Array): Uint8Array[] | undefined;
}

/**
 * AES-256-GCM under one key, one package at a time: beginning a package ends the one before, which
 * must not be used again. `close()` releases what the key holds; nothing may be used after it.
 */
export interface PackageKeyCipher {
  /** Begins sealing a package; `plainBytesHint` is its expected plaintext size (any size still works). */
  seal(nonce: Uint8Array, aad: Uint8Array, plainBytesHint: number): PackageSeal;
  /** Begins opening a package of exactly `cipherBytes` of ciphertext. */
  open(nonce: Uint8Array, aad: Uint8Array, cipherBytes: number): PackageOpen;
  close(): void;
}

/** An AES-256-GCM implementation for the package format. */
export interface PackageCipher {
  readonly backend: AesBackend;
  /** A cipher under `key` (32 bytes); nonces and AAD are copied as each package begins. */
  forKey(key: Uint8Array): PackageKeyCipher;
}

/** node:crypto: a Cipheriv or Decipheriv per package, each piece's output a Buffer of its own. */
export function nodePackageCipher(): PackageCipher {
  return {
    backend: 'node',
    forKey: (key) => ({
      seal: (nonce, aad) => {
        const cipher: CipherGCM = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: GCM_TAG_BYTES });
        cipher.setAAD(aad);
        const sealed: Uint8Array[] = [];
        return {
          update(plain) {
            const out = cipher.update(plain);
            if (out.length > 0) sealed.push(out);
          },
          finish() {
            const tail = cipher.final();
            if (tail.length > 0) sealed.push(tail);
            sealed.push(cipher.getAuthTag());
            return sealed;
          },
        };
      },
      open: (nonce, aad) => {
        const decipher: DecipherGCM = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: GCM_TAG_BYTES });
        decipher.setAAD(aad);
        const opened: Uint8Array[] = [];
        return {
          update(ciphertext) {
            const out = decipher.update(ciphertext);
            if (out.length > 0) opened.push(out);
          },
          finish(tag) {
            try {
              decipher.setAuthTag(tag);
              const tail = decipher.final();
              if (tail.length > 0) opened.push(tail);
              return opened;
            } catch {
              return undefined;
            }
          },
        };
      },
      close() {},
    }),
  };
}
