import { createCipheriv, createDecipheriv, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { TesseraError } from '../../common/index.js';
import { DATA_KEY_BYTES } from './package-format.js';

/** A sealed data key did not open under the key offered: a wrong customer key or master key. */
export class KeyUnsealError extends TesseraError<'KeyUnsealFailed'> {
  constructor(message: string) {
    super('KeyUnsealFailed', message);
  }
}

const SEAL_NONCE_BYTES = 12;
const SEAL_TAG_BYTES = 16;

/**
 * Seals a data key under a key-encryption key (a master key, or a customer's SSE-C key) with
 * AES-256-GCM; `context` (the kind of key and its id) is authenticated, so a sealed key is only opened
 * for what it was sealed for. The result, base64, is nonce, ciphertext and tag.
 */
export function sealDataKey(kek: Uint8Array, dataKey: Uint8Array, context: string, nonce: Uint8Array = randomBytes(SEAL_NONCE_BYTES)): string {
  const cipher = createCipheriv('aes-256-gcm', kek, nonce, { authTagLength: SEAL_TAG_BYTES });
  cipher.setAAD(Buffer.from(`tessera-sse-sealed-key\0${context}`));
  const sealed = Buffer.concat([nonce, cipher.update(dataKey), cipher.final(), cipher.getAuthTag()]);
  return sealed.toString('base64');
}

/** Opens what sealDataKey sealed, or throws KeyUnsealError. */
export function unsealDataKey(kek: Uint8Array, sealedBase64: string, context: string): Buffer {
  const sealed = Buffer.from(sealedBase64, 'base64');
  if (sealed.length !== SEAL_NONCE_BYTES + DATA_KEY_BYTES + SEAL_TAG_BYTES) throw new KeyUnsealError('a sealed data key has the wrong length');
  const decipher = createDecipheriv('aes-256-gcm', kek, sealed.subarray(0, SEAL_NONCE_BYTES), { authTagLength: SEAL_TAG_BYTES });
  decipher.setAAD(Buffer.from(`tessera-sse-sealed-key\0${context}`));
  decipher.setAuthTag(sealed.subarray(sealed.length - SEAL_TAG_BYTES));
  try {
    return Buffer.concat([decipher.update(sealed.subarray(SEAL_NONCE_BYTES, sealed.length - SEAL_TAG_BYTES)), decipher.final()]);
  } catch {
    throw new KeyUnsealError('the sealed data key does not open under this key');
  }
}

/** A keyed digest of a customer key (HMAC-SHA256 under a random salt): recognises the key, reveals nothing of it. */
export function customerKeyDigest(customerKey: Uint8Array, saltBase64: string): string {
  return createHmac('sha256', Buffer.from(saltBase64, 'base64')).update('tessera-sse-c-key\0').update(customerKey).digest('base64');
}

/** True when `customerKey` is the one whose digest (under `saltBase64`) is `digestBase64`; constant time. */
export function customerKeyMatches(customerKey: Uint8Array, saltBase64: string, digestBase64: string): boolean {
  const expected = Buffer.from(digestBase64, 'base64');
  const actual = Buffer.from(customerKeyDigest(customerKey, saltBase64), 'base64');
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}
