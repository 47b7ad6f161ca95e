import type { S3Error } from '../s3/index.js';
import { checkPolicyValues, MAX_POLICY_CONDITION_KEYS } from './policy-limits.js';
import { wildcardMatch } from './wildcard.js';

/** A statement's Condition: operator -> condition key -> the values it is compared with. */
export type ConditionBlock = Record<string, Record<string, string[]>>;

/**
 * What the request offers to conditions, by lower-cased key: `aws:sourceip`, `aws:securetransport`,
 * `aws:username`, `aws:referer`, `aws:currenttime`, `aws:epochtime`, `s3:prefix`, `s3:delimiter`,
 * `s3:max-keys`, `s3:x-amz-acl`, `s3:versionid`, `s3:requestobjecttag/<key>`,
 * `s3:existingobjecttag/<key>`, and the multivalued `s3:requestobjecttagkeys`. A key the request
 * lacks is absent.
 */
export type RequestFacts = ReadonlyMap<string, string | readonly string[]>;

type Compare = (actual: string, expected: string) => boolean;

const STRING: Record<string, { compare: Compare; negated: boolean }> = {
  StringEquals: { compare: (a, e) => a === e, negated: false },
  StringNotEquals: { compare: (a, e) => a === e, negated: true },
  StringEqualsIgnoreCase: { compare: (a, e) => a.toLowerCase() === e.toLowerCase(), negated: false },
  StringNotEqualsIgnoreCase: { compare: (a, e) => a.toLowerCase() === e.toLowerCase(), negated: true },
  StringLike: { compare: (a, e) => wildcardMatch(e, a), negated: false },
  StringNotLike: { compare: (a, e) => wildcardMatch(e, a), negated: true },
  NumericEquals: { compare: (a, e) => numeric(a, e, (x, y) => x === y), negated: false },
  NumericNotEquals: { compare: (a, e) => numeric(a, e, (x, y) => x === y), negated: true },
  NumericLessThan: { compare: (a, e) => numeric(a, e, (x, y) => x < y), negated: false },
  NumericLessThanEquals: { compare: (a, e) => numeric(a, e, (x, y) => x <= y), negated: false },
  NumericGreaterThan: { compare: (a, e) => numeric(a, e, (x, y) => x > y), negated: false },
  NumericGreaterThanEquals: { compare: (a, e) => numeric(a, e, (x, y) => x >= y), negated: false },
  Bool: { compare: (a, e) => a.toLowerCase() === e.toLowerCase(), negated: false },
  IpAddress: { compare: (a, e) => ipInCidr(a, e), negated: false },
  NotIpAddress: { compare: (a, e) => ipInCidr(a, e), negated: true },
  DateEquals: { compare: (a, e) => dated(a, e, (x, y) => x === y), negated: false },
  DateNotEquals: { compare: (a, e) => dated(a, e, (x, y) => x === y), negated: true },
  DateLessThan: { compare: (a, e) => dated(a, e, (x, y) => x < y), negated: false },
  DateLessThanEquals: { compare: (a, e) => dated(a, e, (x, y) => x <= y), negated: false },
  DateGreaterThan: { compare: (a, e) => dated(a, e, (x, y) => x > y), negated: false },
  DateGreaterThanEquals: { compare: (a, e) => dated(a, e, (x, y) => x >= y), negated: false },
};

/** A policy date: ISO 8601 (`2026-01-01`, `2026-01-01T12:00:00Z`) or epoch seconds, as AWS reads them. */
function dateMs(text: string): number | undefined {
  const trimmed = text.trim();
  if (/^\d{1,12}$/.test(trimmed)) return Number(trimmed) * 1000;
  if (!/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(trimmed)) return undefined;
  const ms = Date.parse(trimmed);
  return Number.isNaN(ms) ? undefined : ms;
}

function dated(actual: string, expected: string, test: (a: number, e: number) => boolean): boolean {
  const a = dateMs(actual);
  const e = dateMs(expected);
  return a !== undefined && e !== undefined && test(a, e);
}

function numeric(actual: string, expected: string, test: (a: number, e: number) => boolean): boolean {
  const a = Number(actual);
  const e = Number(expected);
  return actual.trim() !== '' && Number.isFinite(a) && Number.isFinite(e) && test(a, e);
}

/** An IPv4 address as a 32-bit number; IPv4-mapped IPv6 (::ffff:a.b.c.d) counts as IPv4. */
function ipv4(text: string): number | undefined {
  const bare = text.toLowerCase().startsWith('::ffff:') ? text.slice(7) : text;
  const parts = bare.split('.');
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) return undefined;
  return parts.reduce((acc, p) => acc * 256 + Number(p), 0);
}

/** Expands an IPv6 address to 8 groups; undefined when it is not one. */
function ipv6(text: string): number[] | undefined {
  if (!text.includes(':')) return undefined;
  const halves = text.toLowerCase().split('::');
  if (halves.length > 2) return undefined;
  const head = halves[0] === '' ? [] : (halves[0] as string).split(':');
  const tail = halves.length === 2 && halves[1] !== '' ? (halves[1] as string).split(':') : [];
  const missing = 8 - head.length - tail.length;
  if ((halves.length === 1 && missing !== 0) || missing < 0) return undefined;
  const groups = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...tail];
  if (!groups.every((g) => /^[0-9a-f]{1,4}$/.test(g))) return undefined;
  return groups.map((g) => parseInt(g, 16));
}

/** Which IP version `text` is an address of (an IPv4-mapped IPv6 address is IPv4); undefined when it is none. */
export function ipVersion(text: string): 4 | 6 | undefined {
  if (ipv4(text) !== undefined) return 4;
  return ipv6(text) === undefined ? undefined : 6;
}

/** Whether `address` lies in `cidr` (an address alone is a /32 or /128). */
export function ipInCidr(address: string, cidr: string): boolean {
  const [base = '', bitsText] = cidr.split('/');
  const v4 = ipv4(address);
  const base4 = ipv4(base);
  if (v4 !== undefined && base4 !== undefined) {
    const bits = bitsText === undefined ? 32 : Number(bitsText);
    if (!Number.isInteger(bits) || bits < 0 || bits > 32) return false;
    const block = 2 ** (32 - bits);
    return Math.floor(v4 / block) === Math.floor(base4 / block);
  }
  const v6 = ipv6(address);
  const base6 = ipv6(base);
  if (v6 === undefined || base6 === undefined) return false;
  let bits = bitsText === undefined ? 128 : Number(bitsText);
  if (!Number.isInteger(bits) || bits < 0 || bits > 128) return false;
  for (let i = 0; i < 8 && bits > 0; i += 1, bits -= 16) {
    const take = Math.min(16, bits);
    const mask = (0xffff << (16 - take)) & 0xffff;
    if (((v6[i] as number) & mask) !== ((base6[i] as number) & mask)) return false;
  }
  return true;
}

/** How an operator treats a key with several values: `ForAnyValue:`, `ForAllValues:`, or neither. */
type SetQualifier = 'any' | 'all' | undefined;

interface Operator {
  base: string;
  ifExists: boolean;
  nullCheck: boolean;
  set: SetQualifier;
}

function operatorOf(name: string): Operator | undefined {
  if (name === 'Null') return { base: 'Null', ifExists: false, nullCheck: true, set: undefined };
  const qualifier = /^(ForAnyValue|ForAllValues):(.+)$/.exec(name);
  const set: SetQualifier = qualifier === null ? undefined : qualifier[1] === 'ForAnyValue' ? 'any' : 'all';
  const rest = qualifier === null ? name : (qualifier[2] as string);
  const ifExists = rest.endsWith('IfExists');
  const base = ifExists ? rest.slice(0, -'IfExists'.length) : rest;
  return Object.hasOwn(STRING, base) ? { base, ifExists, nullCheck: false, set } : undefined;
}

/**
 * Validates a Condition block; every value becomes a list of strings. `limited`: hold it to the
 * bounds of policy-limits.ts (a document being set, not one read back from storage).
 */
export function validateCondition(value: unknown, malformed: (message: string) => S3Error, limited = true): ConditionBlock {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw malformed('Condition must be a JSON object');
  const block: ConditionBlock = {};
  let keyCount = 0;
  for (const [operator, keys] of Object.entries(value as Record<string, unknown>)) {
    if (operatorOf(operator) === undefined) throw malformed(`Invalid Condition type : ${operator}`);
    if (typeof keys !== 'object' || keys === null || Array.isArray(keys)) throw malformed(`Condition ${operator} must map keys to values`);
    const entries: Record<string, string[]> = {};
    for (const [key, raw] of Object.entries(keys as Record<string, unknown>)) {
      if (!/^(aws|s3):[A-Za-z0-9_\-/.:*]+$/i.test(key)) throw malformed(`Policy has an invalid condition key: ${key}`);
      const list = Array.isArray(raw) ? raw : [raw];
      if (list.length === 0 || !list.every((v) => typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean')) {
        throw malformed(`Condition ${operator} ${key} must be a value or a list of values`);
      }
      const values = list.map(String);
      keyCount += 1;
      if (limited && keyCount > MAX_POLICY_CONDITION_KEYS) throw malformed(`Condition has more than ${MAX_POLICY_CONDITION_KEYS} keys; a policy allows at most that many per statement`);
      if (limited) checkPolicyValues(values, `Condition ${operator} ${key}`, malformed);
      entries[key] = values;
    }
    block[operator] = entries;
  }
  return block;
}

/** Whether every condition of a statement holds for the request (keys are matched case-insensitively). */
export function conditionHolds(block: ConditionBlock, facts: RequestFacts): boolean {
  for (const [operator, keys] of Object.entries(block)) {
    const op = operatorOf(operator);
    if (op === undefined) return false;
    for (const [key, expected] of Object.entries(keys)) {
      const fact = facts.get(key.toLowerCase());
      if (op.nullCheck) {
        if (!expected.some((e) => (e.toLowerCase() === 'true') === (fact === undefined))) return false;
        continue;
      }
      const rule = STRING[op.base] as { compare: Compare; negated: boolean };
      if (!keyHolds(op, rule, fact === undefined ? undefined : typeof fact === 'string' ? [fact] : fact, expected)) return false;
    }
  }
  return true;
}

/**
 * One key of a condition, as AWS evaluates it. Plain operators: a missing key matches nothing (a
 * positive test fails, a negated one holds), a present one holds when one of its values matches.
 * ForAnyValue: some request value passes the test (an empty or missing set fails). ForAllValues:
 * every request value passes it (an empty or missing set holds). A negated operator's test is that
 * the value matches none of the policy's values. IfExists: a missing key holds.
 */
function keyHolds(op: Operator, rule: { compare: Compare; negated: boolean }, values: readonly string[] | undefined, expected: readonly string[]): boolean {
  const passes = (value: string): boolean => expected.some((e) => rule.compare(value, e)) !== rule.negated;
  if (values === undefined || values.length === 0) {
    if (op.ifExists) return true;
    if (op.set === 'any') return false;
    if (op.set === 'all') return true;
    return rule.negated;
  }
  if (op.set === 'all') return values.every(passes);
  if (op.set === 'any') return values.some(passes);
  // A plain operator on a key with several values: a positive test needs one match, a negated one none.
  const hit = values.some((value) => expected.some((e) => rule.compare(value, e)));
  return hit !== rule.negated;
}
