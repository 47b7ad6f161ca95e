import { S3Error } from './errors.js';

/**
 * The policy document of a browser POST upload (base64 JSON in the form's `policy` field): when it
 * expires and the conditions every form field must meet. Pure: the form's fields are handed in.
 */
export interface PostPolicy {
  expirationMs: number;
  conditions: PostCondition[];
}

/** One condition: a field's value compared with `value`, or the file's size bounded. */
export type PostCondition =
  | { kind: 'eq' | 'starts-with'; field: string; value: string; text: string }
  | { kind: 'content-length-range'; minBytes: number; maxBytes: number };

/** The file sizes a policy allows: `content-length-range`, else anything up to the PUT limit. */
export interface SizeRange {
  minBytes: number;
  maxBytes: number | undefined;
}

/** Form fields no condition needs to name (AWS: the signature, the policy, the file, `x-ignore-*`). */
const EXEMPT_FIELDS = new Set(['policy', 'x-amz-signature', 'signature', 'awsaccesskeyid', 'file']);

function invalid(detail: string): S3Error {
  return new S3Error('InvalidPolicyDocument', { message: `Invalid Policy: ${detail}` });
}

function denied(detail: string): S3Error {
  return new S3Error('AccessDenied', { message: `Invalid according to Policy: ${detail}` });
}

/** ISO 8601 as policies write it (`2026-01-01T00:00:00Z`, `...00.000Z`): a date-time with a zone. */
const ISO_8601 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

/** Decodes and validates a policy document; InvalidPolicyDocument naming the fault. */
export function parsePostPolicy(base64: string): PostPolicy {
  if (!/^[A-Za-z0-9+/\s]*={0,2}\s*$/.test(base64)) throw invalid('Invalid Simple-Conditions: Policy is not base64 encoded.');
  let document: unknown;
  try {
    document = JSON.parse(Buffer.from(base64, 'base64').toString('utf8'));
  } catch {
    throw invalid('Invalid JSON.');
  }
  if (typeof document !== 'object' || document === null || Array.isArray(document)) throw invalid('Invalid JSON.');
  const { expiration, conditions } = document as Record<string, unknown>;
  if (expiration === undefined) throw invalid('Policy missing expiration.');
  if (typeof expiration !== 'string' || !ISO_8601.test(expiration) || Number.isNaN(Date.parse(expiration))) {
    throw invalid(`Invalid 'expiration' value: '${String(expiration)}'`);
  }
  if (conditions === undefined) throw invalid('Policy missing conditions.');
  if (!Array.isArray(conditions)) throw invalid('Policy conditions must be a list.');
  return { expirationMs: Date.parse(expiration), conditions: conditions.map(parseCondition) };
}

function parseCondition(raw: unknown): PostCondition {
  if (Array.isArray(raw)) {
    const [operator, first, second] = raw as unknown[];
    if (typeof operator !== 'string') throw invalid(`Invalid Condition: ${JSON.stringify(raw)}`);
    const name = operator.toLowerCase();
    if (name === 'content-length-range') {
      const minBytes = sizeValue(first);
      const maxBytes = sizeValue(second);
      if (raw.length !== 3 || minBytes === undefined || maxBytes === undefined) throw invalid(`Invalid content-length-range: ${JSON.stringify(raw)}`);
      return { kind: 'content-length-range', minBytes, maxBytes };
    }
    if (name !== 'eq' && name !== 'starts-with') throw invalid(`Invalid Condition: unknown operation '${operator}'`);
    if (raw.length !== 3 || typeof first !== 'string' || !first.startsWith('$') || typeof second !== 'string') {
      throw invalid(`Invalid Condition: ${JSON.stringify(raw)}`);
    }
    return { kind: name, field: first.slice(1).toLowerCase(), value: second, text: JSON.stringify(raw) };
  }
  if (typeof raw === 'object' && raw !== null) {
    const entries = Object.entries(raw as Record<string, unknown>);
    const [entry] = entries;
    if (entries.length !== 1 || entry === undefined || typeof entry[1] !== 'string') throw invalid(`Invalid Simple-Condition: ${JSON.stringify(raw)}`);
    return { kind: 'eq', field: entry[0].toLowerCase(), value: entry[1], text: `["eq", "$${entry[0]}", ${JSON.stringify(entry[1])}]` };
  }
  throw invalid(`Invalid Condition: ${JSON.stringify(raw)}`);
}

/** A content-length-range bound: a non-negative integer, as a number or a decimal string. */
function sizeValue(value: unknown): number | undefined {
  const n = typeof value === 'string' && /^\d{1,16}$/.test(value) ? Number(value) : value;
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

/**
 * Checks a form against its policy, as S3 does: the policy has not expired, every condition holds
 * (field names are case-insensitive; `bucket` is the request's bucket), and every form field but the
 * exempt ones is named by a condition. `fields` holds lower-cased names and the values as sent.
 * Returns the file sizes the policy allows; AccessDenied "Invalid according to Policy: ..." otherwise.
 */
export function checkPostPolicy(policy: PostPolicy, fields: ReadonlyMap<string, string>, bucket: string, nowMs: number): SizeRange {
  if (nowMs > policy.expirationMs) throw denied('Policy expired.');
  const named = new Set<string>();
  const range: SizeRange = { minBytes: 0, maxBytes: undefined };
  for (const condition of policy.conditions) {
    if (condition.kind === 'content-length-range') {
      range.minBytes = Math.max(range.minBytes, condition.minBytes);
      range.maxBytes = Math.min(range.maxBytes ?? Infinity, condition.maxBytes);
      continue;
    }
    named.add(condition.field);
    const actual = condition.field === 'bucket' ? bucket : (fields.get(condition.field) ?? '');
    if (!conditionHolds(condition.kind, condition.field, actual, condition.value)) throw denied(`Policy Condition failed: ${condition.text}`);
  }
  const extra = [...fields.keys()].filter((name) => !EXEMPT_FIELDS.has(name) && !name.startsWith('x-ignore-') && !named.has(name));
  if (extra.length > 0) throw denied(`Extra input fields: ${extra.join(', ')}`);
  return range;
}

function conditionHolds(kind: 'eq' | 'starts-with', field: string, actual: string, expected: string): boolean {
  if (kind === 'eq') return actual === expected;
  // A Content-Type may list several types: each must start with the prefix.
  if (field === 'content-type') return actual.split(',').every((part) => part.trim().startsWith(expected));
  return actual.startsWith(expected);
}
