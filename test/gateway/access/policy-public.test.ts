import { t } from 'tap';
import { evaluatePolicy, parsePolicy, policyIsPublic } from '../../../src/gateway/access/index.js';

/**
 * Which bucket policies count as public (BlockPublicPolicy, RestrictPublicBuckets, IsPublic): S3
 * calls a policy public unless every Allow names fixed principals or pins a limiting condition key
 * (aws:SourceIp, aws:SourceAccount, aws:SourceVpc, ...) to fixed values.
 */

function isPublic(...statements: Record<string, unknown>[]): boolean {
  return policyIsPublic(parsePolicy(JSON.stringify({ Version: '2012-10-17', Statement: statements }), { bucket: 'b' }));
}

const read = { Action: 's3:GetObject', Resource: 'arn:aws:s3:::b/*' };
const everyone = { Effect: 'Allow', Principal: '*', ...read };

t.test('an Allow to everyone is public, whatever it is conditioned on outside the limiting keys', async (t) => {
  t.equal(isPublic(everyone), true, 'no condition');
  t.equal(isPublic({ ...everyone, Condition: { StringLike: { 'aws:UserAgent': '*' } } }), true, 'aws:UserAgent matches every caller');
  t.equal(isPublic({ ...everyone, Condition: { Bool: { 'aws:SecureTransport': 'true' } } }), true, 'aws:SecureTransport names no caller');
  t.equal(isPublic({ ...everyone, Condition: { StringLike: { 'aws:Referer': 'https://example.com/*' } } }), true, 'aws:Referer is sent by anyone');
  t.equal(isPublic({ ...everyone, Principal: { AWS: '*' } }), true, 'Principal {"AWS": "*"}');
});

t.test('NotPrincipal in an Allow grants to everyone else', async (t) => {
  t.equal(isPublic({ Effect: 'Allow', NotPrincipal: { AWS: 'arn:aws:iam::tessera:user/mallory' }, ...read }), true);
});

t.test('aws:SourceIp limits only to ranges no broader than /8 (IPv4) or /32 (IPv6)', async (t) => {
  const from = (...cidrs: string[]) => isPublic({ ...everyone, Condition: { IpAddress: { 'aws:SourceIp': cidrs } } });
  t.equal(from('10.0.0.0/24'), false, 'a /24');
  t.equal(from('203.0.113.7'), false, 'an address alone');
  t.equal(from('10.0.0.0/8'), false, 'a /8 is not broader than /8');
  t.equal(from('0.0.0.0/0'), true, 'everywhere');
  t.equal(from('0.0.0.0/1'), true, 'half the internet');
  t.equal(from('10.0.0.0/7'), true, 'a /7');
  t.equal(from('10.0.0.0/24', '0.0.0.0/0'), true, 'one broad range among narrow ones');
  t.equal(from('2001:db8::/32'), false, 'an IPv6 /32');
  t.equal(from('::/0'), true, 'all of IPv6');
  t.equal(from('2001:db8::/31'), true, 'an IPv6 /31');
  t.equal(from('not-an-address'), true, 'a value that is no address limits nothing');
  t.equal(isPublic({ ...everyone, Condition: { NotIpAddress: { 'aws:SourceIp': '10.0.0.0/24' } } }), true, 'NotIpAddress admits everyone else');
});

t.test('the other limiting keys need a positive operator and fixed values', async (t) => {
  const when = (condition: Record<string, unknown>) => isPublic({ ...everyone, Condition: condition });
  t.equal(when({ StringEquals: { 'aws:SourceAccount': '123456789012' } }), false, 'aws:SourceAccount');
  t.equal(when({ StringEquals: { 'aws:sourcevpc': 'vpc-91237329' } }), false, 'keys are matched without regard to case');
  t.equal(when({ StringEquals: { 'aws:SourceVpce': 'vpce-1a2b3c4d' }, StringLike: { 'aws:UserAgent': '*' } }), false, 'a pinned key alongside an open one');
  t.equal(when({ StringEqualsIfExists: { 'aws:SourceAccount': '123456789012' } }), true, 'IfExists admits a request without the key');
  t.equal(when({ StringNotEquals: { 'aws:SourceVpc': 'vpc-91237329' } }), true, 'a negated operator admits every other VPC');
  t.equal(when({ 'ForAllValues:StringEquals': { 'aws:SourceAccount': '123456789012' } }), true, 'ForAllValues: admits a request without the key');
  t.equal(when({ StringLike: { 'aws:SourceVpc': 'vpc-*' } }), true, 'a wildcard fixes nothing');
  t.equal(when({ StringEquals: { 'aws:SourceArn': 'arn:aws:sns:us-east-1:123456789012:${aws:username}' } }), true, 'nor does a policy variable');
  t.equal(when({ StringLike: { 'aws:userid': 'AROAEXAMPLE:*' } }), true, 'aws:userid of the pattern AROLEID:*');
  t.equal(when({ StringEquals: { 'aws:userid': 'AIDAEXAMPLE' } }), false, 'aws:userid fixed');
  t.equal(when({ StringLike: { 's3:DataAccessPointArn': 'arn:aws:s3:us-west-2:123456789012:accesspoint/*' } }), false, 'an access point of a fixed account');
  t.equal(when({ StringLike: { 's3:DataAccessPointArn': 'arn:aws:s3:us-west-2:*:accesspoint/*' } }), true, 'of any account');
  t.equal(when({ Null: { 'aws:SourceAccount': 'false' } }), true, 'Null asks only that the key be there');
});

t.test('fixed principals are not public; "*" among them is (a wildcard inside an ARN is refused: parsers.test.ts)', async (t) => {
  t.equal(isPublic({ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::tessera:user/bob' }, ...read }), false, 'a user ARN');
  t.equal(isPublic({ Effect: 'Allow', Principal: { AWS: ['arn:aws:iam::tessera:user/bob', 'arn:aws:iam::tessera:user/carol'] }, ...read }), false, 'several');
  t.equal(isPublic({ Effect: 'Allow', Principal: { AWS: ['arn:aws:iam::tessera:user/bob', '*'] }, ...read }), true, 'a list with * in it');
});

t.test('a Deny never makes a policy public; one public Allow does', async (t) => {
  t.equal(isPublic({ Effect: 'Deny', Principal: '*', ...read }), false, 'a Deny to everyone');
  t.equal(isPublic({ Effect: 'Deny', NotPrincipal: { AWS: 'arn:aws:iam::tessera:user/alice' }, ...read }), false, 'a Deny to everyone else');
  t.equal(isPublic({ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::tessera:user/bob' }, ...read }, everyone), true, 'a fixed grant beside a public one');
});

t.test('the service prefix of an action is read without regard to case', async (t) => {
  const policy = parsePolicy(JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: '*', Action: ['S3:GetObject', 'S3:list*'], Resource: ['arn:aws:s3:::b', 'arn:aws:s3:::b/*'] }] }), { bucket: 'b' });
  const anyone = { anonymous: true, names: [] };
  t.equal(evaluatePolicy(policy, anyone, 's3:GetObject', 'arn:aws:s3:::b/k', new Map()), 'allow', 'S3:GetObject allows GetObject');
  t.equal(evaluatePolicy(policy, anyone, 's3:ListBucket', 'arn:aws:s3:::b', new Map()), 'allow', 'S3:list* allows ListBucket');
  t.equal(evaluatePolicy(policy, anyone, 's3:PutObject', 'arn:aws:s3:::b/k', new Map()), 'none', 'and nothing else');
  t.throws(() => parsePolicy(JSON.stringify({ Statement: [{ Effect: 'Allow', Principal: '*', Action: 'EC2:RunInstances', Resource: 'arn:aws:s3:::b/*' }] }), { bucket: 'b' }), { code: 'MalformedPolicy' });
});
