import { S3Error } from './errors.js';

/** The largest count S3 takes in a request parameter: its counts are signed 32-bit integers. */
const MAX_COUNT = 2_147_483_647;

/**
 * A non-negative integer request parameter (max-keys, max-uploads, max-parts, part-number-marker) or
 * header (GetObjectAttributes' x-amz-max-parts, x-amz-part-number-marker), capped at `max`:
 * `fallback` when absent or empty, InvalidArgument when it is not an integer from 0 to 2147483647,
 * as S3 answers.
 */
export function countParameter(name: string, raw: string | undefined, fallback: number, max: number): number {
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d{1,10}$/.test(raw) || Number(raw) > MAX_COUNT) {
    throw new S3Error('InvalidArgument', { message: `Provided ${name} not an integer or within integer range`, fields: { ArgumentName: name, ArgumentValue: raw } });
  }
  return Math.min(Number(raw), max);
}
