import { readFile } from 'node:fs/promises';
import { t } from 'tap';
import { ADMIN_ACTIONS, ADMIN_RESOURCE, BUILTIN_POLICIES, evaluatePolicy, parsePolicy } from '../../../src/gateway/access/index.js';

/** The admin API's actions as policy actions: where they may be named, how they are decided, and that each is documented. */

const subject = { anonymous: false, names: ['arn:aws:iam::tessera:user/ops'] };
const facts = new Map<string, string>();

t.test('a user policy may name admin actions; a bucket policy may not', async (t) => {
  const user = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['admin:ListUsers', 'Admin:Get*'], Resource: '*' }] });
  const policy = parsePolicy(user);
  t.equal(evaluatePolicy(policy, subject, 'admin:ListUsers', ADMIN_RESOURCE, facts), 'allow');
  t.equal(evaluatePolicy(policy, subject, 'admin:GetPolicy', ADMIN_RESOURCE, facts), 'allow', 'wildcards and any case, as IAM reads actions');
  t.equal(evaluatePolicy(policy, subject, 'admin:CreateUser', ADMIN_RESOURCE, facts), 'none');
  const bucket = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: '*', Action: 'admin:*', Resource: 'arn:aws:s3:::b' }] });
  t.throws(() => parsePolicy(bucket, { bucket: 'b' }), { code: 'MalformedPolicy' });
  t.throws(() => parsePolicy(JSON.stringify({ Statement: [{ Effect: 'Allow', Action: 'admin:', Resource: '*' }] })), { code: 'MalformedPolicy' }, 'an empty action name');
});

t.test('the built-in admin policy allows every admin action; the S3 ones allow none', async (t) => {
  const admin = parsePolicy(BUILTIN_POLICIES['admin'] as string);
  for (const action of ADMIN_ACTIONS) t.equal(evaluatePolicy(admin, subject, action, ADMIN_RESOURCE, facts), 'allow', action);
  for (const name of ['readonly', 'readwrite', 'writeonly']) {
    const policy = parsePolicy(BUILTIN_POLICIES[name] as string);
    t.ok(ADMIN_ACTIONS.every((action) => evaluatePolicy(policy, subject, action, ADMIN_RESOURCE, facts) === 'none'), `${name} allows no admin action`);
  }
});

t.test('docs/admin-api.md has a row for every admin action', async (t) => {
  const doc = await readFile('docs/admin-api.md', 'utf8');
  for (const action of ADMIN_ACTIONS) t.ok(doc.includes(`| \`${action}\` |`), action);
});
