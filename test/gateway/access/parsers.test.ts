import fc from 'fast-check';
import { t } from 'tap';
import { aclFromHeaders, evaluatePolicy, ipInCidr, parseAclXml, parsePolicy } from '../../../src/gateway/access/index.js';
import { S3Error } from '../../../src/gateway/s3/index.js';

/**
 * The access parsers against arbitrary input: a policy document, an AccessControlPolicy body and ACL
 * headers either parse or fail with their own S3 error (never a crash, never a 500), and whatever
 * parses can be evaluated.
 */

const OWNER = 'a'.repeat(64);
const known = (id: string): boolean => id === OWNER;

function codeOf(run: () => unknown): string {
  try {
    run();
    return 'ok';
  } catch (err) {
    if (err instanceof S3Error) return err.code;
    throw err;
  }
}

/** JSON values shaped like policies: the real field names and values, mixed with noise. */
const policyLike = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.constantFrom('Allow', 'Deny', '*', 's3:GetObject', 's3:*', 'arn:aws:s3:::b/*', 'arn:aws:s3:::b', '2012-10-17', 'aws:SourceIp', '10.0.0.0/8', ''),
    fc.string(),
    fc.integer(),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 3 }),
    fc.dictionary(
      fc.constantFrom('Version', 'Statement', 'Effect', 'Principal', 'NotPrincipal', 'Action', 'NotAction', 'Resource', 'Condition', 'AWS', 'StringLike', 'IpAddress', 'Sid', 'x'),
      tie('value'),
      { maxKeys: 5 },
    ),
  ),
})).value;

t.test('parsePolicy: any JSON or text is a Policy or MalformedPolicy, and a parsed one evaluates', async (t) => {
  fc.assert(
    fc.property(fc.oneof(policyLike.map((v) => JSON.stringify(v)), fc.string()), fc.boolean(), (text, forBucket) => {
      const options = forBucket ? { bucket: 'b' } : {};
      const code = codeOf(() => parsePolicy(text, options));
      if (code !== 'ok' && code !== 'MalformedPolicy') return false;
      if (code === 'ok') {
        const decision = evaluatePolicy(parsePolicy(text, options), { anonymous: false, names: ['u'] }, 's3:GetObject', 'arn:aws:s3:::b/k', new Map([['aws:sourceip', '10.1.2.3']]));
        return ['allow', 'deny', 'none'].includes(decision);
      }
      return true;
    }),
    { numRuns: 3000 },
  );
  t.pass('3,000 documents: each a Policy or MalformedPolicy');
});

t.test('parsePolicy accepts the documents people write and names the fault in the ones they get wrong', async (t) => {
  const ok = JSON.stringify({
    Version: '2012-10-17',
    Statement: [{ Sid: 'r', Effect: 'Allow', Principal: { AWS: ['arn:aws:iam::tessera:user/x'] }, Action: ['s3:Get*'], Resource: 'arn:aws:s3:::b/*', Condition: { StringLikeIfExists: { 's3:prefix': ['a/*'] } } }],
  });
  t.equal(codeOf(() => parsePolicy(ok, { bucket: 'b' })), 'ok');
  const message = (text: string): string => {
    try {
      parsePolicy(text, { bucket: 'b' });
      return 'ok';
    } catch (err) {
      return (err as Error).message;
    }
  };
  t.match(message('[]'), /JSON object/);
  t.match(message(JSON.stringify({ Statement: [{ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', NotAction: 's3:PutObject', Resource: '*' }] })), /both Action and NotAction/);
  t.match(message(JSON.stringify({ Version: '2020-01-01', Statement: [] })), /version/);
});

t.test('a principal ARN or canonical id with a wildcard is MalformedPolicy, as S3 answers; "*" alone names everyone', async (t) => {
  const withPrincipal = (principal: unknown): string =>
    codeOf(() => parsePolicy(JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: principal, Action: 's3:GetObject', Resource: 'arn:aws:s3:::b/*' }] }), { bucket: 'b' }));
  t.equal(withPrincipal({ AWS: 'arn:aws:iam::tessera:user/*' }), 'MalformedPolicy', 'every user of an account');
  t.equal(withPrincipal({ AWS: 'arn:aws:iam::tessera:user/b?b' }), 'MalformedPolicy', 'a ? wildcard');
  t.equal(withPrincipal({ AWS: ['arn:aws:iam::tessera:user/bob', 'arn:aws:iam::*:user/bob'] }), 'MalformedPolicy', 'one wildcard in a list');
  t.equal(withPrincipal({ CanonicalUser: 'abc*' }), 'MalformedPolicy', 'a canonical id');
  t.equal(withPrincipal({ AWS: '*' }), 'ok', '{"AWS": "*"}');
  t.equal(withPrincipal('*'), 'ok', '"*"');
  t.equal(withPrincipal({ AWS: ['arn:aws:iam::tessera:user/bob', '*'] }), 'ok', '"*" in a list');
});

t.test('conditions and principals evaluate as AWS does', async (t) => {
  const policy = parsePolicy(
    JSON.stringify({
      Statement: [
        { Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: 'arn:aws:s3:::b/*', Condition: { NumericLessThanEquals: { 's3:max-keys': '10' } } },
        { Effect: 'Deny', NotPrincipal: { AWS: 'arn:aws:iam::tessera:user/admin' }, Action: 's3:DeleteObject', Resource: 'arn:aws:s3:::b/*' },
        { Effect: 'Allow', Principal: '*', Action: 's3:ListBucket', Resource: 'arn:aws:s3:::b', Condition: { StringNotEquals: { 's3:delimiter': '/' } } },
      ],
    }),
    { bucket: 'b' },
  );
  const user = { anonymous: false, names: ['arn:aws:iam::tessera:user/u'] };
  t.equal(evaluatePolicy(policy, user, 's3:GetObject', 'arn:aws:s3:::b/k', new Map([['s3:max-keys', '5']])), 'allow');
  t.equal(evaluatePolicy(policy, user, 's3:GetObject', 'arn:aws:s3:::b/k', new Map([['s3:max-keys', '50']])), 'none');
  t.equal(evaluatePolicy(policy, user, 's3:GetObject', 'arn:aws:s3:::b/k', new Map()), 'none', 'a missing key fails a positive test');
  t.equal(evaluatePolicy(policy, user, 's3:ListBucket', 'arn:aws:s3:::b', new Map()), 'allow', 'and passes a negated one');
  t.equal(evaluatePolicy(policy, user, 's3:DeleteObject', 'arn:aws:s3:::b/k', new Map()), 'deny');
  t.equal(evaluatePolicy(policy, { anonymous: false, names: ['arn:aws:iam::tessera:user/admin'] }, 's3:DeleteObject', 'arn:aws:s3:::b/k', new Map()), 'none', 'NotPrincipal spares who it names');
  t.equal(evaluatePolicy(policy, { anonymous: true, names: [] }, 's3:getobject', 'arn:aws:s3:::b/k', new Map([['s3:max-keys', '1']])), 'allow', 'actions match case-insensitively');
  t.ok(ipInCidr('192.168.1.77', '192.168.1.0/24'));
  t.notOk(ipInCidr('192.168.2.1', '192.168.1.0/24'));
  t.ok(ipInCidr('::ffff:127.0.0.1', '127.0.0.0/8'), 'IPv4-mapped addresses match IPv4 blocks');
  t.ok(ipInCidr('2001:db8::1', '2001:db8::/32'));
  t.notOk(ipInCidr('2001:db9::1', '2001:db8::/32'));
  t.notOk(ipInCidr('not-an-ip', '0.0.0.0/0'));
});

/** XML fragments shaped like AccessControlPolicy documents. */
const aclXml = fc
  .array(
    fc.oneof(
      fc.constantFrom('<AccessControlPolicy>', '</AccessControlPolicy>', '<AccessControlList>', '</AccessControlList>', '<Grant>', '</Grant>', '<Grantee>', '</Grantee>'),
      fc.constantFrom(`<ID>${OWNER}</ID>`, '<ID>x</ID>', '<URI>http://acs.amazonaws.com/groups/global/AllUsers</URI>', '<URI>http://x</URI>', '<EmailAddress>a@b</EmailAddress>'),
      fc.constantFrom('<Permission>READ</Permission>', '<Permission>FULL_CONTROL</Permission>', '<Permission>WRONG</Permission>', `<Owner><ID>${OWNER}</ID></Owner>`, '<Owner><ID>y</ID></Owner>'),
      fc.string({ maxLength: 8 }),
    ),
    { maxLength: 14 },
  )
  .map((parts) => parts.join(''));

t.test('parseAclXml: any body is grants or one of S3\'s ACL errors', async (t) => {
  const allowed = new Set(['ok', 'MalformedXML', 'MalformedACLError', 'UnresolvableGrantByEmailAddress', 'InvalidArgument', 'AccessDenied']);
  fc.assert(
    fc.property(fc.oneof(aclXml, fc.string()), (body) => allowed.has(codeOf(() => parseAclXml(body, OWNER, known)))),
    { numRuns: 3000 },
  );
  t.pass('3,000 bodies: each grants or an S3 ACL error');
});

t.test('ACL headers: canned or grants, never both; e-mail grantees refused; unknown ids refused', async (t) => {
  const grantee = fc.oneof(fc.constant(`id="${OWNER}"`), fc.constant('id=nobody'), fc.constant('uri="http://acs.amazonaws.com/groups/global/AllUsers"'), fc.constant('emailAddress="a@b.c"'), fc.string({ maxLength: 12 }));
  const headers = fc.record(
    {
      'x-amz-acl': fc.oneof(fc.constantFrom('private', 'public-read', 'public-read-write', 'authenticated-read', 'bucket-owner-read', 'bucket-owner-full-control'), fc.string({ maxLength: 10 })),
      'x-amz-grant-read': fc.array(grantee, { minLength: 1, maxLength: 3 }).map((g) => g.join(', ')),
      'x-amz-grant-full-control': grantee,
    },
    { requiredKeys: [] },
  );
  const allowed = new Set(['ok', 'InvalidArgument', 'InvalidRequest', 'UnresolvableGrantByEmailAddress']);
  fc.assert(fc.property(headers, (h) => allowed.has(codeOf(() => aclFromHeaders(h, OWNER, OWNER, known)))), { numRuns: 3000 });
  t.same(aclFromHeaders({ 'x-amz-acl': 'public-read' }, OWNER, OWNER, known), [
    { grantee: OWNER, permission: 'FULL_CONTROL' },
    { grantee: 'http://acs.amazonaws.com/groups/global/AllUsers', permission: 'READ' },
  ]);
  t.equal(codeOf(() => aclFromHeaders({ 'x-amz-acl': 'private', 'x-amz-grant-read': `id="${OWNER}"` }, OWNER, OWNER, known)), 'InvalidRequest');
  t.equal(codeOf(() => aclFromHeaders({ 'x-amz-grant-read': 'emailAddress="a@b.c"' }, OWNER, OWNER, known)), 'UnresolvableGrantByEmailAddress');
});
