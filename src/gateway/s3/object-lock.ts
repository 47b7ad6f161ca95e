import type { BucketRecord, ObjectRetention } from '../../rpc/index.js';
import { S3Error } from './errors.js';
import { requestDocumentRoot } from './request-document.js';
import { parseXml } from './xml.js';

/** A bucket's Object Lock configuration as its record keeps it. */
export type ObjectLockConfig = NonNullable<BucketRecord['objectLock']>;
/** S3's two retention modes. */
export type RetentionMode = ObjectRetention['mode'];

/** S3's largest default retention: 100 years, or as many days. */
const MAX_DEFAULT_YEARS = 100;
const MAX_DEFAULT_DAYS = 36_500;
const DAY_MS = 86_400_000;

/** S3's message for a lock request on a bucket without Object Lock (InvalidRequest). */
export const MISSING_LOCK_CONFIGURATION = 'Bucket is missing Object Lock Configuration';
/** S3's message for a refused change or removal of a locked version (AccessDenied). */
export const LOCKED_MESSAGE = 'Access Denied because object protected by object lock.';

function isMode(value: unknown): value is RetentionMode {
  return value === 'GOVERNANCE' || value === 'COMPLIANCE';
}

/** An element's text, trimmed; undefined when absent; MalformedXML when it is not plain text. */
function text(root: Record<string, unknown>, name: string): string | undefined {
  const value = root[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new S3Error('MalformedXML');
  return value.trim();
}

/** A child element that must be an element (or absent). */
function child(root: Record<string, unknown>, name: string): Record<string, unknown> | undefined {
  const value = root[name];
  if (value === undefined) return undefined;
  // An empty element parses as the empty string.
  if (value === '') return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new S3Error('MalformedXML');
  return value as Record<string, unknown>;
}

/**
 * Parses a PutObjectLockConfiguration body, as S3 validates it: ObjectLockEnabled must be Enabled; a
 * Rule needs a DefaultRetention with a Mode and exactly one of Days or Years (MalformedXML otherwise),
 * a positive whole number (InvalidRetentionPeriod for zero or less) no larger than S3's limit
 * (InvalidArgument otherwise).
 */
export function parseObjectLockXml(body: string): ObjectLockConfig {
  const root = requestDocumentRoot(body, 'ObjectLockConfiguration');
  if (text(root, 'ObjectLockEnabled') !== 'Enabled') throw new S3Error('MalformedXML');
  const rule = child(root, 'Rule');
  if (rule === undefined) return {};
  const retention = child(rule, 'DefaultRetention');
  if (retention === undefined) throw new S3Error('MalformedXML');
  const mode = text(retention, 'Mode');
  if (!isMode(mode)) throw new S3Error('MalformedXML');
  const days = text(retention, 'Days');
  const years = text(retention, 'Years');
  if ((days === undefined) === (years === undefined)) throw new S3Error('MalformedXML');
  const period = (days ?? years) as string;
  if (!/^-?\d+$/.test(period)) throw new S3Error('MalformedXML');
  const count = Number(period);
  if (count <= 0) throw new S3Error('InvalidRetentionPeriod', { message: 'Default retention period must be a positive integer value.' });
  if (count > (days === undefined ? MAX_DEFAULT_YEARS : MAX_DEFAULT_DAYS)) {
    throw new S3Error('InvalidArgument', { message: 'Default retention period is too large.' });
  }
  return { defaultRetention: days === undefined ? { mode, years: count } : { mode, days: count } };
}

/** The GetObjectLockConfiguration document of a bucket with Object Lock. */
export function objectLockBody(config: ObjectLockConfig): Record<string, unknown> {
  const retention = config.defaultRetention;
  if (retention === undefined) return { ObjectLockEnabled: 'Enabled' };
  const period = retention.days === undefined ? { Years: retention.years } : { Days: retention.days };
  return { ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode: retention.mode, ...period } } };
}

/** The retention a new version gets from the bucket's default at `nowMs`: days of 24 hours, calendar years. */
export function defaultRetentionAt(config: ObjectLockConfig | undefined, nowMs: number): ObjectRetention | undefined {
  const retention = config?.defaultRetention;
  if (retention === undefined) return undefined;
  if (retention.days !== undefined) return { mode: retention.mode, retainUntilMs: nowMs + retention.days * DAY_MS };
  const until = new Date(nowMs);
  until.setUTCFullYear(until.getUTCFullYear() + (retention.years ?? 0));
  return { mode: retention.mode, retainUntilMs: until.getTime() };
}

/** An ISO 8601 date-time as S3 accepts it for a retain-until date; undefined when it is not one. */
function parseDate(value: string): number | undefined {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/.test(value)) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

/** A retain-until date as S3 writes it (ISO 8601, UTC, milliseconds). */
export function formatRetainUntil(ms: number): string {
  return new Date(ms).toISOString();
}

/** What the Object Lock headers of a write ask for; `present` when any of them was sent. */
export interface LockHeaders {
  present: boolean;
  retention?: ObjectRetention;
  legalHold?: boolean;
}

/**
 * Parses x-amz-object-lock-mode, -retain-until-date and -legal-hold as S3 does: mode and date come
 * together, the mode is GOVERNANCE or COMPLIANCE, the date is ISO 8601 and in the future, the legal
 * hold is ON or OFF; each refusal is InvalidArgument.
 */
export function parseLockHeaders(get: (name: string) => string | undefined, nowMs: number): LockHeaders {
  const mode = get('x-amz-object-lock-mode');
  const until = get('x-amz-object-lock-retain-until-date');
  const hold = get('x-amz-object-lock-legal-hold');
  const result: LockHeaders = { present: mode !== undefined || until !== undefined || hold !== undefined };
  if ((mode === undefined) !== (until === undefined)) {
    throw new S3Error('InvalidArgument', { message: 'x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be supplied' });
  }
  if (mode !== undefined && until !== undefined) {
    if (!isMode(mode)) throw new S3Error('InvalidArgument', { message: 'Unknown wormMode directive.', fields: { ArgumentName: 'x-amz-object-lock-mode', ArgumentValue: mode } });
    const untilMs = parseDate(until.trim());
    if (untilMs === undefined) {
      throw new S3Error('InvalidArgument', { message: 'The retain until date must be provided in ISO 8601 format', fields: { ArgumentName: 'x-amz-object-lock-retain-until-date', ArgumentValue: until } });
    }
    if (untilMs <= nowMs) throw new S3Error('InvalidArgument', { message: 'The retain until date must be in the future!' });
    result.retention = { mode, retainUntilMs: untilMs };
  }
  if (hold !== undefined) {
    if (hold !== 'ON' && hold !== 'OFF') {
      throw new S3Error('InvalidArgument', { message: "Legal Hold must be either of 'ON' or 'OFF'", fields: { ArgumentName: 'x-amz-object-lock-legal-hold', ArgumentValue: hold } });
    }
    result.legalHold = hold === 'ON';
  }
  return result;
}

/**
 * Parses a PutObjectRetention body: Mode and RetainUntilDate together (MalformedXML otherwise), the
 * date in the future (InvalidArgument). An empty Retention (neither) answers null: remove retention.
 */
export function parseRetentionXml(body: string, nowMs: number): ObjectRetention | null {
  const root = emptyDocument(body, 'Retention') ? {} : requestDocumentRoot(body, 'Retention');
  const mode = text(root, 'Mode');
  const until = text(root, 'RetainUntilDate');
  if (mode === undefined && until === undefined) return null;
  if (!isMode(mode) || until === undefined) throw new S3Error('MalformedXML');
  const untilMs = parseDate(until);
  if (untilMs === undefined) throw new S3Error('MalformedXML');
  if (untilMs <= nowMs) throw new S3Error('InvalidArgument', { message: 'The retain until date must be in the future!' });
  return { mode, retainUntilMs: untilMs };
}

/** Whether `body` is well-formed XML whose root `rootName` is empty (it parses as text, not an element). */
function emptyDocument(body: string, rootName: string): boolean {
  try {
    return parseXml(body)[rootName] === '';
  } catch {
    return false;
  }
}

/** Parses a PutObjectLegalHold body: Status ON or OFF (MalformedXML otherwise). */
export function parseLegalHoldXml(body: string): boolean {
  const status = text(requestDocumentRoot(body, 'LegalHold'), 'Status');
  if (status !== 'ON' && status !== 'OFF') throw new S3Error('MalformedXML');
  return status === 'ON';
}

/**
 * Whether replacing retention `current` with `next` (null: removing it) at `nowMs` needs the GOVERNANCE
 * bypass, or is refused outright: COMPLIANCE retention still running can only be extended, in
 * COMPLIANCE; GOVERNANCE retention still running can be extended in GOVERNANCE by anyone, and
 * shortened, removed or changed in mode only with the bypass. Expired retention is no constraint.
 */
export function retentionChange(current: ObjectRetention | undefined, next: ObjectRetention | null, nowMs: number): 'allowed' | 'needs-bypass' | 'refused' {
  if (current === undefined || current.retainUntilMs <= nowMs) return 'allowed';
  const extends_ = next !== null && next.mode === current.mode && next.retainUntilMs >= current.retainUntilMs;
  if (extends_) return 'allowed';
  return current.mode === 'COMPLIANCE' ? 'refused' : 'needs-bypass';
}
