import { S3Error } from './errors.js';

/** Longest key S3 accepts, in UTF-8 bytes. */
export const MAX_KEY_BYTES = 1024;

/** Refuses keys S3 refuses (too long) and keys the node index cannot hold (NUL). */
export function validateKey(key: string): void {
  if (Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES) throw new S3Error('KeyTooLongError');
  if (key.includes('\0')) throw new S3Error('InvalidArgument', { message: 'Object keys cannot contain NUL.' });
}

/** S3 bucket naming rules (the current general-purpose rules). */
export function validateBucketName(name: string): void {
  const valid =
    name.length >= 3 &&
    name.length <= 63 &&
    /^[a-z0-9][a-z0-9.-]*[a-z0-9]$/.test(name) &&
    !name.includes('..') &&
    !/^\d+\.\d+\.\d+\.\d+$/.test(name) &&
    !name.startsWith('xn--') &&
    !name.endsWith('-s3alias');
  if (!valid) throw new S3Error('InvalidBucketName', { fields: { BucketName: name } });
}
