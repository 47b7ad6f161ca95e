import type { LifecycleFilter, LifecycleRule } from '../../rpc/index.js';
import { S3Error } from './errors.js';
import { requestDocumentRoot } from './request-document.js';
import { validateTags } from './tag-set.js';
import { element, list, literal, renderXml } from './xml.js';

/** S3's limits on a lifecycle configuration. */
const MAX_RULES = 1000;
const MAX_ID_CHARS = 255;
const MAX_NEWER_NONCURRENT = 100;
const MAX_FILTER_TAGS = 10;

const RULE_FIELDS = new Set(['ID', 'Status', 'Filter', 'Prefix', 'Expiration', 'NoncurrentVersionExpiration', 'AbortIncompleteMultipartUpload', 'Transition', 'NoncurrentVersionTransition']);
const FILTER_FIELDS = new Set(['Prefix', 'Tag', 'And', 'ObjectSizeGreaterThan', 'ObjectSizeLessThan']);

/**
 * The same, trimmed: for numbers, dates, enumerations and ids. Never for a Prefix or a Tag's Key and
 * Value, which select objects: keys may begin or end with spaces, and a trimmed `tmp ` would expire
 * `tmpdata/...` (a blank one, every object).
 */
function text(fields: Record<string, unknown>, name: string): string | undefined {
  return literal(fields, name)?.trim();
}

function integer(value: string | undefined, what: string, minimum: number): number | undefined {
  if (value === undefined) return undefined;
  if (!/^-?\d{1,15}$/.test(value)) throw new S3Error('MalformedXML');
  const number = Number(value);
  if (number < minimum) throw new S3Error('InvalidArgument', { message: `'${what}' must be ${minimum === 0 ? 'a non-negative' : 'a positive'} integer` });
  return number;
}

function tagsOf(entries: readonly unknown[]): Record<string, string> {
  const pairs = entries.map((entry): [string, string] => {
    if (typeof entry !== 'object' || entry === null) throw new S3Error('MalformedXML');
    const fields = entry as Record<string, unknown>;
    const key = literal(fields, 'Key');
    if (key === undefined) throw new S3Error('MalformedXML');
    return [key, literal(fields, 'Value') ?? ''];
  });
  if (pairs.length > MAX_FILTER_TAGS) throw new S3Error('InvalidArgument', { message: `A lifecycle filter cannot have more than ${MAX_FILTER_TAGS} tags` });
  const seen = new Set<string>();
  for (const [key] of pairs) {
    if (seen.has(key)) throw new S3Error('InvalidArgument', { message: 'Duplicate Tag Keys are not allowed.' });
    seen.add(key);
  }
  return validateTags(pairs, MAX_FILTER_TAGS);
}

/** The conditions of a `<Filter>`: exactly one of Prefix, Tag, ObjectSize*, And (or none: every object). */
function parseFilter(fields: Record<string, unknown>): LifecycleFilter {
  const present = Object.keys(fields);
  if (present.some((name) => !FILTER_FIELDS.has(name))) throw new S3Error('MalformedXML');
  if (present.length > 1) throw new S3Error('MalformedXML', { message: 'A Filter holds one condition; use And to combine several.' });
  const and = element(fields, 'And');
  const source = and ?? fields;
  if (and !== undefined && Object.keys(and).some((name) => name === 'And' || !FILTER_FIELDS.has(name))) throw new S3Error('MalformedXML');
  const filter: LifecycleFilter = {};
  const prefix = literal(source, 'Prefix');
  if (prefix !== undefined) filter.prefix = prefix;
  const tags = list(source['Tag']);
  if (and === undefined && tags.length > 1) throw new S3Error('MalformedXML');
  if (tags.length > 0) filter.tags = tagsOf(tags);
  const greater = integer(text(source, 'ObjectSizeGreaterThan'), 'ObjectSizeGreaterThan', 0);
  const less = integer(text(source, 'ObjectSizeLessThan'), 'ObjectSizeLessThan', 1);
  if (greater !== undefined) filter.sizeGreaterThan = greater;
  if (less !== undefined) filter.sizeLessThan = less;
  if (greater !== undefined && less !== undefined && greater >= less) {
    throw new S3Error('InvalidArgument', { message: 'ObjectSizeGreaterThan must be less than ObjectSizeLessThan' });
  }
  if (and !== undefined && Object.keys(filter).length === 0) throw new S3Error('MalformedXML');
  return filter;
}

/** `<Date>`: ISO 8601 at midnight UTC, as S3 requires. */
function parseDate(value: string): number {
  const ms = Date.parse(/^\d{4}-\d{2}-\d{2}$/.test(value) ? `${value}T00:00:00Z` : value);
  if (!/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(ms)) throw new S3Error('MalformedXML');
  if (ms % 86_400_000 !== 0) throw new S3Error('InvalidArgument', { message: "'Date' must be at midnight GMT" });
  return ms;
}

function parseExpiration(fields: Record<string, unknown>): NonNullable<LifecycleRule['expiration']> {
  const days = integer(text(fields, 'Days'), 'Days', 1);
  const date = text(fields, 'Date');
  const marker = text(fields, 'ExpiredObjectDeleteMarker');
  if (marker !== undefined && marker !== 'true' && marker !== 'false') throw new S3Error('MalformedXML');
  const set = [days !== undefined, date !== undefined, marker !== undefined].filter(Boolean).length;
  if (set === 0) throw new S3Error('MalformedXML', { message: 'Expiration needs Days, Date or ExpiredObjectDeleteMarker.' });
  if (set > 1) {
    throw new S3Error('InvalidRequest', {
      message: marker === undefined ? 'Days and Date cannot both be specified in a Lifecycle Expiration Policy' : 'ExpiredObjectDeleteMarker cannot be specified with Days or Date in a Lifecycle Expiration Policy',
    });
  }
  return {
    ...(days === undefined ? {} : { days }),
    ...(date === undefined ? {} : { dateMs: parseDate(date) }),
    ...(marker === undefined ? {} : { expiredObjectDeleteMarker: marker === 'true' }),
  };
}

function parseRule(entry: unknown, newId: () => string): LifecycleRule {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw new S3Error('MalformedXML');
  const fields = entry as Record<string, unknown>;
  if (Object.keys(fields).some((name) => !RULE_FIELDS.has(name))) throw new S3Error('MalformedXML');
  if (fields['Transition'] !== undefined || fields['NoncurrentVersionTransition'] !== undefined) {
    throw new S3Error('InvalidRequest', {
      message: 'Transition and NoncurrentVersionTransition are not supported: this store has a single storage class (STANDARD). Use Expiration rules instead.',
    });
  }
  const id = text(fields, 'ID');
  if (id !== undefined && [...id].length > MAX_ID_CHARS) throw new S3Error('InvalidArgument', { message: 'ID length should not exceed allowed limit of 255' });
  const status = text(fields, 'Status');
  if (status !== 'Enabled' && status !== 'Disabled') throw new S3Error('MalformedXML');
  const filterElement = element(fields, 'Filter');
  const legacyPrefix = literal(fields, 'Prefix');
  // S3 requires exactly one of them; an empty <Filter/> or <Prefix/> selects every object.
  if ((filterElement === undefined) === (legacyPrefix === undefined)) throw new S3Error('MalformedXML');
  const filter = filterElement === undefined ? (legacyPrefix === '' ? {} : { prefix: legacyPrefix as string }) : parseFilter(filterElement);
  const rule: LifecycleRule = { id: id === undefined || id === '' ? newId() : id, enabled: status === 'Enabled', form: filterElement === undefined ? 'Prefix' : 'Filter', filter };
  const expiration = element(fields, 'Expiration');
  if (expiration !== undefined) rule.expiration = parseExpiration(expiration);
  const noncurrent = element(fields, 'NoncurrentVersionExpiration');
  if (noncurrent !== undefined) {
    const noncurrentDays = integer(text(noncurrent, 'NoncurrentDays'), 'NoncurrentDays', 1);
    if (noncurrentDays === undefined) throw new S3Error('MalformedXML');
    const newer = integer(text(noncurrent, 'NewerNoncurrentVersions'), 'NewerNoncurrentVersions', 1);
    if (newer !== undefined && newer > MAX_NEWER_NONCURRENT) {
      throw new S3Error('InvalidArgument', { message: `'NewerNoncurrentVersions' must be between 1 and ${MAX_NEWER_NONCURRENT}` });
    }
    rule.noncurrentExpiration = { noncurrentDays, ...(newer === undefined ? {} : { newerNoncurrentVersions: newer }) };
  }
  const abort = element(fields, 'AbortIncompleteMultipartUpload');
  if (abort !== undefined) {
    const days = integer(text(abort, 'DaysAfterInitiation'), 'DaysAfterInitiation', 1);
    if (days === undefined) throw new S3Error('MalformedXML');
    rule.abortIncompleteUploadDays = days;
  }
  if (rule.expiration === undefined && rule.noncurrentExpiration === undefined && rule.abortIncompleteUploadDays === undefined) {
    throw new S3Error('InvalidRequest', { message: 'At least one action needs to be specified in a rule' });
  }
  const hasTags = rule.filter.tags !== undefined;
  const hasSize = rule.filter.sizeGreaterThan !== undefined || rule.filter.sizeLessThan !== undefined;
  if (rule.abortIncompleteUploadDays !== undefined && (hasTags || hasSize)) {
    throw new S3Error('InvalidRequest', { message: 'AbortIncompleteMultipartUpload cannot be specified with Tags or object size conditions.' });
  }
  if (rule.expiration?.expiredObjectDeleteMarker !== undefined && hasTags) {
    throw new S3Error('InvalidRequest', { message: 'ExpiredObjectDeleteMarker cannot be specified with Tags.' });
  }
  return rule;
}

/**
 * A PutBucketLifecycleConfiguration document as rules, validated as S3 does: MalformedXML for what does
 * not fit the schema, InvalidArgument for values out of range, InvalidRequest for actions that cannot
 * go together (and for Transition: there is one storage class). Rules without an ID get `newId()`.
 */
export function parseLifecycleXml(body: string, newId: () => string): LifecycleRule[] {
  const root = requestDocumentRoot(body, 'LifecycleConfiguration');
  if (Object.keys(root).some((name) => name !== 'Rule')) throw new S3Error('MalformedXML');
  const entries = list(root['Rule']);
  if (entries.length === 0 || entries.length > MAX_RULES) throw new S3Error('MalformedXML');
  const rules = entries.map((entry) => parseRule(entry, newId));
  const ids = new Set<string>();
  for (const rule of rules) {
    if (ids.has(rule.id)) throw new S3Error('InvalidArgument', { message: 'Rule ID must be unique. Found same ID for more than one rule' });
    ids.add(rule.id);
  }
  return rules;
}

function renderFilter(filter: LifecycleFilter): Record<string, unknown> {
  const tags = Object.entries(filter.tags ?? {}).map(([Key, Value]) => ({ Key, Value }));
  const conditions: Record<string, unknown> = {
    ...(filter.prefix === undefined ? {} : { Prefix: filter.prefix }),
    ...(tags.length === 0 ? {} : { Tag: tags }),
    ...(filter.sizeGreaterThan === undefined ? {} : { ObjectSizeGreaterThan: filter.sizeGreaterThan }),
    ...(filter.sizeLessThan === undefined ? {} : { ObjectSizeLessThan: filter.sizeLessThan }),
  };
  const count = Object.keys(conditions).length + Math.max(0, tags.length - 1);
  return count > 1 ? { And: conditions } : conditions;
}

/** A bucket's rules as the LifecycleConfiguration document GetBucketLifecycleConfiguration answers with. */
export function renderLifecycle(rules: readonly LifecycleRule[]): string {
  return renderXml('LifecycleConfiguration', {
    Rule: rules.map((rule) => {
      const { expiration, noncurrentExpiration, abortIncompleteUploadDays } = rule;
      return {
        ID: rule.id,
        ...(rule.form === 'Prefix' ? { Prefix: rule.filter.prefix ?? '' } : { Filter: renderFilter(rule.filter) }),
        Status: rule.enabled ? 'Enabled' : 'Disabled',
        ...(expiration === undefined
          ? {}
          : {
              Expiration: {
                ...(expiration.days === undefined ? {} : { Days: expiration.days }),
                ...(expiration.dateMs === undefined ? {} : { Date: new Date(expiration.dateMs).toISOString() }),
                ...(expiration.expiredObjectDeleteMarker === undefined ? {} : { ExpiredObjectDeleteMarker: expiration.expiredObjectDeleteMarker }),
              },
            }),
        ...(noncurrentExpiration === undefined
          ? {}
          : {
              NoncurrentVersionExpiration: {
                NoncurrentDays: noncurrentExpiration.noncurrentDays,
                ...(noncurrentExpiration.newerNoncurrentVersions === undefined ? {} : { NewerNoncurrentVersions: noncurrentExpiration.newerNoncurrentVersions }),
              },
            }),
        ...(abortIncompleteUploadDays === undefined ? {} : { AbortIncompleteMultipartUpload: { DaysAfterInitiation: abortIncompleteUploadDays } }),
      };
    }),
  });
}

/**
 * S3's `x-amz-expiration` value: `expiry-date="<HTTP date>", rule-id="<id>"`, the rule id URL-encoded as S3
 * documents, so an id holding a quote, a comma or a space cannot break the pairs apart.
 */
export function expirationHeader(atMs: number, ruleId: string): string {
  return `expiry-date="${new Date(atMs).toUTCString()}", rule-id="${encodeURIComponent(ruleId)}"`;
}

/** A rule id as header text: quotes and backslashes escaped, anything outside printable ASCII percent-encoded. */
export function headerSafe(ruleId: string): string {
  return ruleId.replace(/["\\]/g, '\\$&').replace(/[^\x20-\x7e]/gu, (char) => encodeURIComponent(char));
}
