import type { ObjectRecord } from '../../../rpc/index.js';
import { header, type RequestContext } from '../../http/index.js';
import { S3Error, type ByteRange } from '../../s3/index.js';

/** What `?partNumber=` selects of an object: the part's bytes, and the object's part count when it was uploaded in parts. */
export interface PartSelection {
  range: ByteRange;
  /** x-amz-mp-parts-count: set for a multipart object only. */
  partsCount?: number;
}

/**
 * GetObject and HeadObject with `partNumber`: a ranged read of that part, as S3 answers it. A
 * multipart object's part N is its Nth part's bytes; an object written whole is one part, so
 * partNumber=1 is all of it. A part the object does not have is 400 InvalidPart, as S3 answers it (the
 * s3-tests suite checks AWS's answer: test_multipart_get_part, test_non_multipart_get_part), whatever
 * the object's encryption; a number outside 1..10000 is InvalidArgument, and a Range header beside
 * partNumber is refused. Undefined when the request names no part.
 */
export function selectedPart(ctx: RequestContext<unknown>, record: ObjectRecord): PartSelection | undefined {
  const text = ctx.target.query.get('partNumber');
  if (text === undefined) return undefined;
  const partNumber = /^\d{1,5}$/.test(text) ? Number(text) : 0;
  if (partNumber < 1 || partNumber > 10_000) {
    throw new S3Error('InvalidArgument', { message: 'Part number must be an integer between 1 and 10000, inclusive', fields: { ArgumentName: 'partNumber', ArgumentValue: text } });
  }
  if (header(ctx, 'range') !== undefined) {
    throw new S3Error('InvalidRequest', { message: 'Cannot specify both Range header and partNumber query parameter' });
  }
  const parts = record.parts;
  if (parts === undefined) {
    if (partNumber !== 1) throw new S3Error('InvalidPart', { fields: { PartNumber: text } });
    return { range: { start: 0, end: record.sizeBytes - 1 } };
  }
  if (partNumber > parts.length) {
    throw new S3Error('InvalidPart', { fields: { PartNumber: text } });
  }
  // A completed object's parts count 1..N in order, whatever numbers the upload gave them.
  const position = partNumber - 1;
  let start = 0;
  for (let i = 0; i < position; i += 1) start += parts[i]?.sizeBytes ?? 0;
  const size = parts[position]?.sizeBytes ?? 0;
  return { range: { start, end: start + size - 1 }, partsCount: parts.length };
}
