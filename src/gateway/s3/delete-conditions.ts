import type { ObjectRecord } from '../../rpc/index.js';
import { etagListMatches, httpDateSeconds } from './conditions.js';
import { S3Error } from './errors.js';

/**
 * A conditional delete (S3, 2025): DeleteObject's `If-Match`, `x-amz-if-match-last-modified-time` and
 * `x-amz-if-match-size` headers, or a DeleteObjects entry's `ETag`, `LastModifiedTime` and `Size`.
 * Each is evaluated against the key's current version only.
 */
export interface DeleteConditions {
  /** An ETag list or `*`: the current version must exist and match; a missing one is NoSuchKey. */
  ifMatch?: string;
  /** The current version's Last-Modified, in whole seconds. */
  lastModifiedSeconds?: number;
  /** The current version's size. */
  sizeBytes?: number;
}

// ISO 8601 as the XML of DeleteObjects carries a timestamp: `2025-01-02T03:04:05Z`, optional fraction.
const ISO_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d{1,9})?Z$/;

function timeSeconds(text: string): number | undefined {
  const http = httpDateSeconds(text);
  if (http !== undefined) return http;
  const match = ISO_TIME.exec(text.trim());
  if (match === null) return undefined;
  const [year, month, day, hour, minute, second] = match.slice(1).map(Number) as [number, number, number, number, number, number];
  if (month < 1 || month > 12 || hour > 23 || minute > 59 || second > 59) return undefined;
  const ms = Date.UTC(year, month - 1, day, hour, minute, second);
  return new Date(ms).getUTCDate() === day ? Math.floor(ms / 1000) : undefined;
}

function invalid(name: string, value: string): S3Error {
  return new S3Error('InvalidArgument', { message: `Invalid ${name}`, fields: { ArgumentName: name, ArgumentValue: value } });
}

/**
 * The conditions of one delete from their text as sent (headers or XML elements, `names` says which
 * spelling errors name); undefined when there are none. A time that is not a date or a size that is
 * not a whole number of bytes is InvalidArgument: a condition the server cannot read must not be
 * dropped, or the delete it guards would go ahead unguarded.
 */
export function parseDeleteConditions(
  sent: { ifMatch: string | undefined; lastModified: string | undefined; size: string | undefined },
  names: { lastModified: string; size: string },
): DeleteConditions | undefined {
  const conditions: DeleteConditions = {};
  if (sent.ifMatch !== undefined) {
    if (sent.ifMatch.trim() === '') throw invalid('If-Match', sent.ifMatch);
    conditions.ifMatch = sent.ifMatch;
  }
  if (sent.lastModified !== undefined) {
    const seconds = timeSeconds(sent.lastModified);
    if (seconds === undefined) throw invalid(names.lastModified, sent.lastModified);
    conditions.lastModifiedSeconds = seconds;
  }
  if (sent.size !== undefined) {
    const text = sent.size.trim();
    if (!/^\d{1,16}$/.test(text)) throw invalid(names.size, sent.size);
    conditions.sizeBytes = Number(text);
  }
  return Object.keys(conditions).length === 0 ? undefined : conditions;
}

/**
 * Which condition the key's current version (null: none, or a delete marker) fails, or undefined when
 * the delete may go ahead. If-Match on a key with no current version fails as NoSuchKey (as it does for
 * a conditional PUT); the time and size conditions hold for a missing key, as S3 documents them.
 */
export function failedDeleteCondition(conditions: DeleteConditions, current: ObjectRecord | null): 'NoSuchKey' | 'If-Match' | 'x-amz-if-match-last-modified-time' | 'x-amz-if-match-size' | undefined {
  if (current === null) return conditions.ifMatch === undefined ? undefined : 'NoSuchKey';
  if (conditions.ifMatch !== undefined && !etagListMatches(conditions.ifMatch, current.etag)) return 'If-Match';
  if (conditions.lastModifiedSeconds !== undefined && Math.floor(current.lastModifiedMs / 1000) !== conditions.lastModifiedSeconds) return 'x-amz-if-match-last-modified-time';
  if (conditions.sizeBytes !== undefined && current.sizeBytes !== conditions.sizeBytes) return 'x-amz-if-match-size';
  return undefined;
}
