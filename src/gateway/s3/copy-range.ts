import { copySourceTooLarge, S3Error } from './errors.js';

/** Largest copy source S3 copies in one request, a whole object or one part's range: 5 GiB. */
export const MAX_COPY_SOURCE_BYTES = 5 * 1024 ** 3;

/** The bytes of a copy source that a copy reads. */
export interface CopyRange {
  start: number;
  length: number;
}

const RANGE_HEADER = 'x-amz-copy-source-range';

/**
 * The bytes a copy reads from a source of `sourceSizeBytes`: all of it without
 * `x-amz-copy-source-range` (always so for CopyObject), else the `bytes=first-last` that
 * UploadPartCopy's header names. Unlike a GET's Range, S3
 * takes only that one form (no `first-`, no suffix `-n`, no list) and refuses the rest with
 * InvalidArgument; a range that is backwards or reaches past the source's end is also a 400
 * InvalidArgument naming the source's size, not a GET's 416 InvalidRange. More than 5 GiB is
 * S3's InvalidRequest for a copy source too large, whole or ranged.
 */
export function copySourceRange(header: string | undefined, sourceSizeBytes: number): CopyRange {
  const range = header === undefined ? { start: 0, length: sourceSizeBytes } : parseRangeHeader(header, sourceSizeBytes);
  if (range.length > MAX_COPY_SOURCE_BYTES) throw copySourceTooLarge(MAX_COPY_SOURCE_BYTES);
  return range;
}

function parseRangeHeader(header: string, sourceSizeBytes: number): CopyRange {
  const match = /^bytes=(\d+)-(\d+)$/.exec(header.trim());
  if (match === null) {
    throw new S3Error('InvalidArgument', {
      message: 'The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy',
      fields: { ArgumentName: RANGE_HEADER, ArgumentValue: header },
    });
  }
  const first = Number(match[1]);
  const last = Number(match[2]);
  if (first > last || last >= sourceSizeBytes) {
    throw new S3Error('InvalidArgument', {
      message: `Range specified is not valid for source object of size: ${sourceSizeBytes}`,
      fields: { ArgumentName: RANGE_HEADER, ArgumentValue: header },
    });
  }
  return { start: first, length: last - first + 1 };
}
