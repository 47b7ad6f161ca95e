import { ROW, newestFirst, rowKey } from '../metadata-keys.js';

/*
 * The key layout of the bucket index's rows (index-rows.ts): `i, bucket, incarnation, key, tag, suffix`.
 */

/** Row tags; within a key they sort g, i, v. */
export const TAG = { gone: 'g', intent: 'i', version: 'v' } as const;

/** An intent row's value. */
export interface IntentValue {
  expiresMs: number;
}

/** A `g` row's value: `ends` when the version deleted was a null version (see isNullEntry): it had replaced the older null versions. */
export interface GoneValue {
  ends?: true;
}

/** The part of an index row's key after the bucket incarnation's scope. */
export function parseRow(key: Buffer, scopeLength: number): { key: string; keyEnd: number; tag: string; suffix: string } {
  const keyEnd = key.indexOf(0x00, scopeLength);
  const tag = String.fromCharCode(key[keyEnd + 1] ?? 0);
  const suffix = key.toString('latin1', keyEnd + 3);
  return { key: key.toString('utf8', scopeLength, keyEnd), keyEnd, tag, suffix: tag === TAG.version ? turnBack(suffix) : suffix };
}

/** An index row's bucket and incarnation (`i, bucket, incarnation, …`), and the rest of it. */
export function parseIndexRow(key: Buffer): { bucket: string; incarnation: number; row: ReturnType<typeof parseRow> } {
  const bucketEnd = key.indexOf(0x00, 2);
  const incarnationEnd = key.indexOf(0x00, bucketEnd + 1);
  return { bucket: key.toString('utf8', 2, bucketEnd), incarnation: Number(key.toString('latin1', bucketEnd + 1, incarnationEnd)), row: parseRow(key, incarnationEnd + 1) };
}

/** The rows of one key of one bucket incarnation start with this. */
export function keyBase(bucket: string, incarnation: number, key: string): Buffer {
  return rowKey(ROW.index, bucket, String(incarnation), key);
}

/** The row of a key with `tag` and `suffix`. */
export function tagged(base: Buffer, tag: string, suffix: string): Buffer {
  return Buffer.concat([base, Buffer.from(`\u0000${tag}\u0000${suffix}`, 'latin1')]);
}

/** newestFirst is its own inverse (each hex digit d becomes 15 - d). */
export function turnBack(turned: string): string {
  return newestFirst(turned);
}
