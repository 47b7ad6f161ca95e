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

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

/** A date's fields as an HTTP-date form spells them. */
interface DateFields {
  day: string;
  month: string;
  year: number;
  time: readonly string[];
}

/** The three forms of an HTTP-date (RFC 9110 5.6.7), each with how its fields are read. */
const HTTP_DATE_FORMS: readonly { pattern: RegExp; fields: (groups: string[]) => DateFields }[] = [
  // IMF-fixdate, the one every client sends: `Sun, 06 Nov 1994 08:49:37 GMT` (`UTC` or `+0000`, which
  // some date libraries write, mean the same and are taken too).
  {
    pattern: /^[a-z]{3}, (\d{2}) ([a-z]{3}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) (?:GMT|UTC|\+0000)$/i,
    fields: ([day = '', month = '', year = '', ...time]) => ({ day, month, year: Number(year), time }),
  },
  // The obsolete RFC 850 form: `Sunday, 06-Nov-94 08:49:37 GMT`.
  {
    pattern: /^[a-z]{6,9}, (\d{2})-([a-z]{3})-(\d{2}) (\d{2}):(\d{2}):(\d{2}) GMT$/i,
    fields: ([day = '', month = '', year = '', ...time]) => ({ day, month, year: twoDigitYear(Number(year)), time }),
  },
  // C's asctime() form, in GMT: `Sun Nov  6 08:49:37 1994`.
  {
    pattern: /^[a-z]{3} ([a-z]{3}) ([ \d]\d) (\d{2}):(\d{2}):(\d{2}) (\d{4})$/i,
    fields: ([month = '', day = '', hour = '', minute = '', second = '', year = '']) => ({ day: day.trim(), month, year: Number(year), time: [hour, minute, second] }),
  },
];

/**
 * An HTTP-date (RFC 9110 5.6.7: the three forms a recipient must accept) in whole seconds, or undefined
 * when absent or not such a date: a condition with an invalid date is ignored (RFC 9110 13.1.3, 13.1.4).
 * `Date.parse` is not used: it reads "0" or "2030" as dates, and asctime in the server's time zone.
 */
export function httpDateSeconds(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  for (const form of HTTP_DATE_FORMS) {
    const match = form.pattern.exec(text);
    if (match === null) continue;
    const { day, month, year, time } = form.fields(match.slice(1));
    const monthIndex = MONTHS.indexOf(month.toLowerCase());
    const [dayOfMonth, hour, minute, second] = [day, ...time].map(Number) as [number, number, number, number];
    if (monthIndex < 0 || hour > 23 || minute > 59 || second > 59) return undefined;
    const ms = Date.UTC(year, monthIndex, dayOfMonth, hour, minute, second);
    // Date.UTC rolls 31 Feb over into March: such a day is no date.
    return new Date(ms).getUTCDate() === dayOfMonth ? seconds(ms) : undefined;
  }
  return undefined;
}

/** RFC 9110 5.6.7: a two-digit year more than 50 years in the future is in the past century. */
function twoDigitYear(yy: number): number {
  const year = 2000 + yy;
  return year > new Date().getUTCFullYear() + 50 ? year - 100 : year;
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
 *
 * With `nowMs`, the current time, an If-Modified-Since later than it is invalid and ignored (RFC 9110
 * 13.1.3), as S3 ignores such an x-amz-copy-source-if-modified-since and copies. Without it every valid
 * date counts: a GET's If-Modified-Since of tomorrow answers 304 (test/conformance/conformance_conditionals.py).
 */
export function failedCondition(conditions: Conditions, record: ObjectRecord, nowMs: number | undefined): { name: string; notModified: boolean } | undefined {
  const modified = seconds(record.lastModifiedMs);
  if (conditions.ifMatch !== undefined) {
    if (!etagListMatches(conditions.ifMatch, record.etag)) return { name: 'If-Match', notModified: false };
  } else {
    const since = httpDateSeconds(conditions.ifUnmodifiedSince);
    if (since !== undefined && modified > since) return { name: 'If-Unmodified-Since', notModified: false };
  }
  if (conditions.ifNoneMatch !== undefined) {
    if (etagListMatches(conditions.ifNoneMatch, record.etag)) return { name: 'If-None-Match', notModified: true };
  } else {
    const since = httpDateSeconds(conditions.ifModifiedSince);
    const future = since !== undefined && nowMs !== undefined && since * 1000 > nowMs;
    if (since !== undefined && !future && modified <= since) return { name: 'If-Modified-Since', notModified: true };
  }
  return undefined;
}
