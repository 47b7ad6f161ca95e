import { createCipheriv, createHash } from 'node:crypto';

/** Bytes at the start of every object that say which key it belongs to. */
export const TAG_BYTES = 16;

/**
 * The shared bytes of every object of one size: an AES-CTR keystream under a fixed key, so the load generator and the
 * null server (separate processes) derive the same incompressible bytes without passing them around.
 */
export function basePayload(sizeBytes: number): Uint8Array {
  const cipher = createCipheriv('aes-128-ctr', Buffer.alloc(16, 7), Buffer.alloc(16, 0));
  return new Uint8Array(cipher.update(Buffer.alloc(sizeBytes)));
}

/** The MD5 of the key (cut to the object size): lets a verified GET tell one object from another of the same size. */
export function objectTag(key: string, sizeBytes: number): Uint8Array {
  return new Uint8Array(createHash('md5').update(key).digest().subarray(0, Math.min(TAG_BYTES, sizeBytes)));
}

/** An object's bytes as parts: its key's tag, then the size's base payload after the tag. Nothing is copied. */
export function objectParts(key: string, base: Uint8Array): Uint8Array[] {
  const tag = objectTag(key, base.byteLength);
  return tag.byteLength === base.byteLength ? [tag] : [tag, base.subarray(tag.byteLength)];
}
