import { t } from 'tap';
import {
  MAX_POLICY_CONDITION_KEYS,
  MAX_POLICY_LIST_VALUES,
  MAX_POLICY_STATEMENTS,
  MAX_POLICY_VALUE_CHARS,
  parsePolicy,
  type ParsePolicyOptions,
} from '../../src/gateway/access/index.js';

/**
 * The bounds on what a policy may hold, for bucket policies and user policies alike (`tessera admin
 * policy set` parses with the same function): each is MalformedPolicy when a document is set, while a
 * document stored before the bounds existed still parses, so its bucket or user keeps its meaning.
 */

function document(statements: Record<string, unknown>[]): string {
  return JSON.stringify({ Version: '2012-10-17', Statement: statements });
}

function outcome(text: string, options: ParsePolicyOptions): string {
  try {
    parsePolicy(text, options);
    return 'ok';
  } catch (err) {
    return `${(err as { code?: string }).code ?? 'no code'}: ${(err as Error).message}`;
  }
}

const bucketStatement = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: 'arn:aws:s3:::b/*', ...extra });
const userStatement = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::b/*', ...extra });

const conditionKeys = (count: number): Record<string, unknown> => ({
  Condition: { StringLike: Object.fromEntries(Array.from({ length: count }, (_, i) => [`s3:ExistingObjectTag/t${i}`, 'v*'])) },
});

/** Each bound: a document just within it and one just past it, as a statement builder makes them. */
const bounds: { name: string; within: (s: typeof bucketStatement) => Record<string, unknown>[]; past: (s: typeof bucketStatement) => Record<string, unknown>[]; says: RegExp }[] = [
  {
    name: 'statements',
    within: (s) => Array.from({ length: MAX_POLICY_STATEMENTS }, () => s({ Resource: '*' })),
    past: (s) => Array.from({ length: MAX_POLICY_STATEMENTS + 1 }, () => s({ Resource: '*' })),
    says: /statements/,
  },
  {
    name: 'Resource values',
    within: (s) => [s({ Resource: Array.from({ length: MAX_POLICY_LIST_VALUES }, (_, i) => `arn:aws:s3:::b/${i}`) })],
    past: (s) => [s({ Resource: Array.from({ length: MAX_POLICY_LIST_VALUES + 1 }, (_, i) => `arn:aws:s3:::b/${i}`) })],
    says: /^MalformedPolicy: Resource has/,
  },
  {
    name: 'NotAction values',
    within: (s) => [{ ...s(), Action: undefined, NotAction: Array.from({ length: MAX_POLICY_LIST_VALUES }, () => 's3:PutObject') }],
    past: (s) => [{ ...s(), Action: undefined, NotAction: Array.from({ length: MAX_POLICY_LIST_VALUES + 1 }, () => 's3:PutObject') }],
    says: /^MalformedPolicy: NotAction has/,
  },
  {
    name: 'the length of a Resource',
    within: (s) => [s({ Resource: `arn:aws:s3:::b/${'k'.repeat(MAX_POLICY_VALUE_CHARS - 'arn:aws:s3:::b/'.length)}` })],
    past: (s) => [s({ Resource: `arn:aws:s3:::b/${'k'.repeat(MAX_POLICY_VALUE_CHARS - 'arn:aws:s3:::b/'.length + 1)}` })],
    says: /characters/,
  },
  {
    name: 'the length of an action',
    within: (s) => [s({ Action: `s3:${'*'.repeat(MAX_POLICY_VALUE_CHARS - 3)}` })],
    past: (s) => [s({ Action: `s3:${'*'.repeat(MAX_POLICY_VALUE_CHARS - 2)}` })],
    says: /^MalformedPolicy: Action has a value of/,
  },
  {
    name: 'values of one condition key',
    within: (s) => [s({ Condition: { StringLike: { 's3:prefix': Array.from({ length: MAX_POLICY_LIST_VALUES }, (_, i) => `p${i}/*`) } } })],
    past: (s) => [s({ Condition: { StringLike: { 's3:prefix': Array.from({ length: MAX_POLICY_LIST_VALUES + 1 }, (_, i) => `p${i}/*`) } } })],
    says: /^MalformedPolicy: Condition StringLike s3:prefix has/,
  },
  {
    name: 'the length of a condition value',
    within: (s) => [s({ Condition: { StringLike: { 'aws:Referer': '*'.repeat(MAX_POLICY_VALUE_CHARS) } } })],
    past: (s) => [s({ Condition: { StringLike: { 'aws:Referer': '*'.repeat(MAX_POLICY_VALUE_CHARS + 1) } } })],
    says: /characters/,
  },
  { name: 'condition keys in a statement', within: (s) => [s(conditionKeys(MAX_POLICY_CONDITION_KEYS))], past: (s) => [s(conditionKeys(MAX_POLICY_CONDITION_KEYS + 1))], says: /keys/ },
];

for (const policyKind of ['bucket', 'user'] as const) {
  const options: ParsePolicyOptions = policyKind === 'bucket' ? { bucket: 'b' } : {};
  const statement = policyKind === 'bucket' ? bucketStatement : userStatement;
  t.test(`a ${policyKind} policy at each bound is accepted and one past it is MalformedPolicy naming the bound`, async (t) => {
    for (const bound of bounds) {
      t.equal(outcome(document(bound.within(statement)), options), 'ok', `${bound.name}: at the bound`);
      t.match(outcome(document(bound.past(statement)), options), bound.says, `${bound.name}: one past it`);
    }
  });

  t.test(`a ${policyKind} policy stored before the bounds still parses, so it keeps applying`, async (t) => {
    for (const bound of bounds) {
      t.equal(outcome(document(bound.past(statement)), { ...options, stored: true }), 'ok', bound.name);
    }
    // The size bound is older than the stored documents: it still holds for them.
    const oversize = document([statement({ Sid: 'x'.repeat(20 * 1024) })]);
    t.match(outcome(oversize, { ...options, stored: true }), /^MalformedPolicy: Policy exceeds the maximum allowed document size/);
  });
}
