import { t } from 'tap';
import { evaluatePolicy, parsePolicy, type RequestFacts } from '../../../src/gateway/access/index.js';
import { S3Error } from '../../../src/gateway/s3/index.js';

/**
 * Condition operators and keys beyond the single-valued string tests: the ForAnyValue: and
 * ForAllValues: set qualifiers, the Date operators, aws:CurrentTime / aws:EpochTime and aws:Referer.
 */

const user = { anonymous: false, names: ['arn:aws:iam::tessera:user/u'] };

function decide(condition: Record<string, unknown>, facts: RequestFacts, effect = 'Allow'): string {
  const policy = parsePolicy(JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: effect, Principal: '*', Action: 's3:*', Resource: 'arn:aws:s3:::b/*', Condition: condition }] }), { bucket: 'b' });
  return evaluatePolicy(policy, user, 's3:PutObject', 'arn:aws:s3:::b/k', facts);
}

const tags = (...keys: string[]): RequestFacts => new Map([['s3:requestobjecttagkeys', keys]]);

t.test('ForAnyValue: some request value must pass; an empty or missing set fails', async (t) => {
  const condition = { 'ForAnyValue:StringEquals': { 's3:RequestObjectTagKeys': ['secret', 'pii'] } };
  t.equal(decide(condition, tags('team', 'secret')), 'allow', 'one of the values is listed');
  t.equal(decide(condition, tags('team')), 'none', 'none is');
  t.equal(decide(condition, tags()), 'none', 'an empty set');
  t.equal(decide(condition, new Map()), 'none', 'a missing key');
  t.equal(decide({ 'ForAnyValue:StringNotEquals': { 's3:RequestObjectTagKeys': ['team'] } }, tags('team', 'other')), 'allow', 'negated: some value is not listed');
  t.equal(decide({ 'ForAnyValue:StringNotEquals': { 's3:RequestObjectTagKeys': ['team'] } }, tags('team')), 'none');
  t.equal(decide({ 'ForAnyValue:StringLike': { 's3:RequestObjectTagKeys': 'proj-*' } }, tags('a', 'proj-x')), 'allow', 'with wildcards');
  t.equal(decide({ 'ForAnyValue:StringEquals': { 'aws:username': 'u' } }, new Map([['aws:username', 'u']])), 'allow', 'a single-valued key is a set of one');
});

t.test('ForAllValues: every request value must pass; an empty or missing set holds', async (t) => {
  const condition = { 'ForAllValues:StringEquals': { 's3:RequestObjectTagKeys': ['team', 'project'] } };
  t.equal(decide(condition, tags('team')), 'allow');
  t.equal(decide(condition, tags('team', 'project')), 'allow');
  t.equal(decide(condition, tags('team', 'cost')), 'none', 'one value outside the list');
  t.equal(decide(condition, tags()), 'allow', 'an empty set holds (AWS: pair it with Null to require tags)');
  t.equal(decide(condition, new Map()), 'allow', 'so does a missing key');
  t.equal(decide({ ...condition, Null: { 's3:RequestObjectTagKeys': 'false' } }, new Map()), 'none', 'Null false requires the key');
  t.equal(decide({ 'ForAllValues:StringNotLike': { 's3:RequestObjectTagKeys': 'secret*' } }, tags('a', 'b')), 'allow', 'negated: no value matches');
  t.equal(decide({ 'ForAllValues:StringNotLike': { 's3:RequestObjectTagKeys': 'secret*' } }, tags('a', 'secret-1')), 'none');
  t.equal(decide({ 'ForAllValues:StringEqualsIfExists': { 's3:RequestObjectTagKeys': 'team' } }, new Map()), 'allow', 'IfExists after a qualifier');
  t.equal(decide(condition, tags('team', 'cost'), 'Deny'), 'none', 'a Deny whose condition fails denies nothing');
});

t.test('Date operators against aws:CurrentTime and aws:EpochTime', async (t) => {
  const now = new Map([['aws:currenttime', '2026-06-01T12:00:00.000Z'], ['aws:epochtime', String(Date.parse('2026-06-01T12:00:00Z') / 1000)]]);
  t.equal(decide({ DateLessThan: { 'aws:CurrentTime': '2026-12-31T00:00:00Z' } }, now), 'allow', 'before the end of a window');
  t.equal(decide({ DateLessThan: { 'aws:CurrentTime': '2026-01-01' } }, now), 'none', 'a date alone is midnight UTC');
  t.equal(decide({ DateGreaterThan: { 'aws:CurrentTime': '2026-06-01T11:59:59Z' } }, now), 'allow');
  t.equal(decide({ DateGreaterThanEquals: { 'aws:CurrentTime': '2026-06-01T12:00:00Z' } }, now), 'allow');
  t.equal(decide({ DateEquals: { 'aws:CurrentTime': '2026-06-01T12:00:00Z' } }, now), 'allow', 'the same instant in another spelling');
  t.equal(decide({ DateNotEquals: { 'aws:CurrentTime': '2026-06-01T12:00:00Z' } }, now), 'none');
  t.equal(decide({ DateLessThanEquals: { 'aws:EpochTime': String(Date.parse('2026-06-01T12:00:00Z') / 1000) } }, now), 'allow', 'epoch seconds');
  t.equal(decide({ DateGreaterThan: { 'aws:CurrentTime': 'not a date' } }, now), 'none', 'a value that is no date matches nothing');
  t.equal(decide({ 'DateLessThan': { 'aws:CurrentTime': '2027-01-01T00:00:00Z' }, 'DateGreaterThan': { 'aws:CurrentTime': '2026-01-01T00:00:00Z' } }, now), 'allow', 'a window: both bounds');
});

t.test('aws:Referer with StringLike, and operators that do not exist', async (t) => {
  const condition = { StringLike: { 'aws:Referer': ['https://www.example.com/*', 'https://example.com/*'] } };
  t.equal(decide(condition, new Map([['aws:referer', 'https://www.example.com/gallery']])), 'allow');
  t.equal(decide(condition, new Map([['aws:referer', 'https://evil.example/']])), 'none');
  t.equal(decide(condition, new Map()), 'none', 'no Referer header');
  const malformed = (operator: string): string => {
    try {
      decide({ [operator]: { 'aws:CurrentTime': '2026-01-01' } }, new Map());
      return 'ok';
    } catch (err) {
      return err instanceof S3Error ? err.code : 'not an S3Error';
    }
  };
  t.equal(malformed('ForSomeValues:StringEquals'), 'MalformedPolicy');
  t.equal(malformed('ForAnyValue:Null'), 'MalformedPolicy', 'Null takes no qualifier');
  t.equal(malformed('ForAllValues:'), 'MalformedPolicy');
  t.equal(malformed('DateLessThanIfExists'), 'ok');
});
