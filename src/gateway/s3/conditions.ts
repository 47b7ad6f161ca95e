import type { ObjectRecord } from '../../rpc/index.js';

/** True when an If-Match / If-None-Match list names the record's ETag (quoted or bare) or is `*`. */
export function etagListMatches(list: string, etag: string): boolean {
  return list.split(',').some((tag) => {
    const trimmed = tag.trim().replace(/^W\//, '');
    return trimmed === '*' || trimmed === etag || `"${trimmed}"` === etag;
  });
}

function seconds(ms: number): number {
  return Math.floor(ms / 1000);
}

/** An HTTP date in whole seconds, or undefined when absent or unparseable (S3 then ignores the condition). */
function dateSeconds(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : seconds(ms);
}

/** The four conditional headers of a read or a copy source, as sent. */
export interface Conditions {
  ifMatch: string | undefined;
  ifNoneMatch: string | undefined;
  ifModifiedSince: string | undefined;
  ifUnmodifiedSince: string | undefined;
}

/**
 * The RFC 7232 evaluation S3 follows: If-Match decides alone when present (If-Unmodified-Since is then
 * ignored, so a matching ETag with a stale date still succeeds); likewise If-None-Match overrides
 * If-Modified-Since. Returns which condition failed, or undefined.
 */
export function failedCondition(conditions: Conditions, record: ObjectRecord): { name: string; notModified: boolean } | undefined {
  const modified = seconds(record.lastModifiedMs);
  if (conditions.ifMatch !== undefined) {
    if (!etagListMatches(conditions.ifMatch, record.etag)) return { name: 'If-Match', notModified: false };
  } else {
    const since = dateSeconds(conditions.ifUnmodifiedSince);
    if (since !== undefined && modified > since) return { name: 'If-Unmodified-Since', notModified: false };
  }
  if (conditions.ifNoneMatch !== undefined) {
    if (etagListMatches(conditions.ifNoneMatch, record.etag)) return { name: 'If-None-Match', notModified: true };
  } else {
    const since = dateSeconds(conditions.ifModifiedSince);
    if (since !== undefined && modified <= since) return { name: 'If-Modified-Since', notModified: true };
  }
  return undefined;
}
