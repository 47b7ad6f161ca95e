import { S3Error } from './errors.js';

/** Parsed `Range: bytes=...` header, resolved against the object size. */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * Resolves a Range header as S3 does: a single range, `a-b`, `a-` or `-n`; syntactically invalid or
 * multi-range headers are ignored (whole object); a range starting past the end is InvalidRange.
 */
export function parseRange(header: string | undefined, sizeBytes: number): ByteRange | undefined {
  if (header === undefined) return undefined;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (match === null) return undefined;
  const [, first = '', last = ''] = match;
  if (first === '' && last === '') return undefined;
  if (first === '') {
    const suffix = Number(last);
    if (suffix === 0) throw invalidRange(header, sizeBytes);
    return { start: Math.max(0, sizeBytes - suffix), end: sizeBytes - 1 };
  }
  const start = Number(first);
  const end = last === '' ? sizeBytes - 1 : Math.min(Number(last), sizeBytes - 1);
  if (last !== '' && Number(last) < start) return undefined;
  if (start >= sizeBytes) throw invalidRange(header, sizeBytes);
  return { start, end };
}

/** S3's 416: the body names the range asked for and the object's size, and Content-Range the size (RFC 9110 15.5.17). */
function invalidRange(header: string, sizeBytes: number): S3Error {
  return new S3Error('InvalidRange', {
    fields: { RangeRequested: header.trim(), ActualObjectSize: String(sizeBytes) },
    headers: { 'content-range': `bytes */${sizeBytes}` },
  });
}
