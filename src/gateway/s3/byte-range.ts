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
    if (suffix === 0) throw new S3Error('InvalidRange', { fields: { ActualObjectSize: String(sizeBytes) } });
    return { start: Math.max(0, sizeBytes - suffix), end: sizeBytes - 1 };
  }
  const start = Number(first);
  const end = last === '' ? sizeBytes - 1 : Math.min(Number(last), sizeBytes - 1);
  if (last !== '' && Number(last) < start) return undefined;
  if (start >= sizeBytes) throw new S3Error('InvalidRange', { fields: { ActualObjectSize: String(sizeBytes) } });
  return { start, end };
}
