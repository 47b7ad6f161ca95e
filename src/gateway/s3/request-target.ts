import { S3Error } from './errors.js';
import { validateKey } from './names.js';

/** What an S3 request addresses, parsed from its raw target. */
export interface S3Target {
  bucket: string | undefined;
  key: string | undefined;
  /** Query parameters, decoded; repeated names keep the first value. */
  query: Map<string, string>;
  rawPath: string;
  rawQuery: string;
  /** The bucket came from the Host header (virtual-hosted style), not from the path. */
  virtualHosted: boolean;
}

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
  return { bucket, key, query, rawPath, rawQuery, virtualHosted: hostBucket !== undefined };
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
    throw new S3Error('InvalidURI');
  }
}
