import { S3Error } from './s3-errors.js';

/** What an S3 request addresses, parsed from its raw target. */
export interface S3Target {
  bucket: string | undefined;
  key: string | undefined;
  /** Query parameters, decoded; repeated names keep the first value. */
  query: Map<string, string>;
  rawPath: string;
  rawQuery: string;
}

/** Longest key S3 accepts, in UTF-8 bytes. */
export const MAX_KEY_BYTES = 1024;

/**
 * Splits a path-style or virtual-hosted-style request target into bucket, key and query.
 * With a base domain configured, `Host: bucket.<baseDomain>` names the bucket and the whole path is the key.
 */
export function parseTarget(rawUrl: string, host: string | undefined, baseDomain: string | undefined): S3Target {
  const mark = rawUrl.indexOf('?');
  const rawPath = mark < 0 ? rawUrl : rawUrl.slice(0, mark);
  const rawQuery = mark < 0 ? '' : rawUrl.slice(mark + 1);
  const query = new Map<string, string>();
  for (const part of rawQuery.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const name = decodeComponent(eq < 0 ? part : part.slice(0, eq), true);
    if (!query.has(name)) query.set(name, eq < 0 ? '' : decodeComponent(part.slice(eq + 1), true));
  }
  const hostBucket = bucketFromHost(host, baseDomain);
  const path = rawPath.startsWith('/') ? rawPath.slice(1) : rawPath;
  let bucket: string | undefined;
  let key: string | undefined;
  if (hostBucket !== undefined) {
    bucket = hostBucket;
    key = path === '' ? undefined : decodeComponent(path, false);
  } else {
    const slash = path.indexOf('/');
    bucket = slash < 0 ? path : path.slice(0, slash);
    key = slash < 0 || slash === path.length - 1 ? undefined : decodeComponent(path.slice(slash + 1), false);
    bucket = bucket === '' ? undefined : decodeComponent(bucket, false);
  }
  if (key !== undefined) validateKey(key);
  return { bucket, key, query, rawPath, rawQuery };
}

function bucketFromHost(host: string | undefined, baseDomain: string | undefined): string | undefined {
  if (host === undefined || baseDomain === undefined || baseDomain === '') return undefined;
  const name = host.replace(/:\d+$/, '').toLowerCase();
  const suffix = `.${baseDomain.toLowerCase()}`;
  return name.endsWith(suffix) && name.length > suffix.length ? name.slice(0, -suffix.length) : undefined;
}

function decodeComponent(text: string, plusIsSpace: boolean): string {
  try {
    return decodeURIComponent(plusIsSpace ? text.replace(/\+/g, ' ') : text);
  } catch {
    throw new S3Error('InvalidArgument', { message: 'The request target is not valid percent-encoded UTF-8.' });
  }
}

/** Refuses keys S3 refuses (too long) and keys the node index cannot hold (NUL). */
export function validateKey(key: string): void {
  if (Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES) throw new S3Error('KeyTooLongError');
  if (key.includes('\0')) throw new S3Error('InvalidArgument', { message: 'Object keys cannot contain NUL.' });
}

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

/** Encodes a listing field for `encoding-type=url` the way S3 does (form encoding, `/` kept). */
export function urlEncodeListField(value: string): string {
  return encodeURIComponent(value).replace(/%20/g, '+').replace(/%2F/g, '/');
}

/**
 * The field encoder a listing's `encoding-type` asks for: `url` encodes (and the caller echoes
 * EncodingType), absent or empty leaves fields as they are, anything else is InvalidArgument.
 */
export function listFieldEncoder(encodingType: string | undefined): (value: string) => string {
  if (encodingType === undefined || encodingType === '') return (value) => value;
  if (encodingType !== 'url') {
    throw new S3Error('InvalidArgument', { message: 'Invalid Encoding Method specified in Request', fields: { ArgumentName: 'encoding-type', ArgumentValue: encodingType } });
  }
  return urlEncodeListField;
}
