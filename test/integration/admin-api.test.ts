import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CreateBucketCommand, ListBucketsCommand } from '@aws-sdk/client-s3';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { t } from 'tap';
import { runAdminCli } from '../../src/bin/admin-cli.js';
import { runUserCli } from '../../src/bin/user-cli.js';
import { localS3Client, startCluster, statusOf, TEST_CREDENTIALS, writeGatewayConfig } from '../helpers/cluster.js';
import { rawS3, type RawResponse } from '../gateway/raw-s3.js';

/**
 * The admin API (docs/admin-api.md) through real HTTP, each request signed by the SDK's own SigV4
 * signer (or curl's): users, keys and policies made through it work for S3 at once, the callers'
 * policies decide who may call it, and hostile requests change nothing. One small cluster for all.
 */
let logged = '';
const sink = new Writable({
  write(chunk: Buffer, _encoding, done) {
    logged += chunk.toString();
    done();
  },
});
const cluster = await startCluster({ nodeCount: 3, dataShards: 2, parityShards: 1, nodeHealing: false, gatewayLogger: pino({ level: 'debug' }, sink) });
/** Every secret an answer carried: none may reach the log. */
const secretsSeen = new Set<string>();
t.teardown(() => cluster.close());
// The file `tessera admin --config` reaches the nodes through, with this cluster's 2+1 layout.
const configFile = await writeGatewayConfig(cluster);
await writeFile(configFile, JSON.stringify({ ...JSON.parse(await readFile(configFile, 'utf8')), erasure: { dataShards: 2, parityShards: 1 } }));

type Keys = { accessKeyId: string; secretAccessKey: string };

/** One admin call, signed with `credentials` (the administrator's by default); the status and parsed JSON. */
async function admin(method: string, path: string, body?: string, credentials: Keys = TEST_CREDENTIALS): Promise<{ status: number; json: any; raw: RawResponse }> {
  const raw = await rawS3(cluster.endpoint, { method, bucket: '-', key: `admin/v1/${path}`, credentials: { ...credentials }, ...(body === undefined ? {} : { body, headers: { 'content-type': 'application/json' } }) });
  const json = JSON.parse(raw.body);
  if (typeof json?.secretAccessKey === 'string') secretsSeen.add(json.secretAccessKey);
  return { status: raw.status, json, raw };
}

async function userNames(): Promise<string[]> {
  return ((await admin('GET', 'users')).json as { name: string }[]).map((u) => u.name);
}

/** The CLI's answer as JSON, run with `args` (a target included). */
async function cli(noun: 'user' | 'key' | 'policy', args: string[], env: Record<string, string> = {}): Promise<{ code: number; json: any; err: string }> {
  let out = '';
  let err = '';
  const code = await runUserCli(noun, [...args, '--json'], env, { stdout: (s) => void (out += s), stderr: (s) => void (err += s) });
  const json = out === '' ? undefined : JSON.parse(out);
  if (typeof json?.secretAccessKey === 'string') secretsSeen.add(json.secretAccessKey);
  return { code, json, err };
}

const viaEndpoint = ['--endpoint', cluster.endpoint];
const adminEnv = { AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey };

t.test('the administrator creates a user whose new key then signs S3 requests, lists it without secrets and deletes it', async (t) => {
  const created = await admin('POST', 'users', JSON.stringify({ name: 'alice' }));
  t.equal(created.status, 201);
  t.equal(created.json.user, 'alice');
  t.match(created.json.secretAccessKey, /^[A-Za-z0-9]{40}$/, 'the secret is shown once, at creation');
  const s3 = localS3Client(cluster.endpoint, { accessKeyId: created.json.accessKeyId, secretAccessKey: created.json.secretAccessKey }, { maxAttempts: 1 });
  t.teardown(() => s3.destroy());
  t.equal(await statusOf(s3.send(new ListBucketsCommand({}))), 200, 'the key signs S3 requests at once');

  const listed = await admin('GET', 'users');
  t.equal(listed.status, 200);
  t.match(listed.raw.headers['content-type'], /^application\/json/);
  t.same(listed.json.find((u: { name: string }) => u.name === 'alice').accessKeyIds, [created.json.accessKeyId]);
  t.notOk(listed.raw.body.includes(created.json.secretAccessKey), 'no listing shows a secret');
  const shown = await admin('GET', 'users/alice');
  t.same(shown.json.keys.map((k: { accessKeyId: string; enabled: boolean }) => [k.accessKeyId, k.enabled]), [[created.json.accessKeyId, true]]);
  t.notOk(shown.raw.body.includes(created.json.secretAccessKey));

  t.equal((await admin('POST', 'users', JSON.stringify({ name: 'alice' }))).status, 409, 'a second alice is refused');
  const removed = await admin('DELETE', 'users/alice');
  t.equal(removed.status, 200);
  t.notOk((await userNames()).includes('alice'));
  t.equal(await statusOf(s3.send(new ListBucketsCommand({}))), 403, 'its key signs nothing any more');
  t.equal((await admin('DELETE', 'users/alice')).status, 404);
});

t.test('a user may call the admin API only with the admin actions its policies allow', async (t) => {
  const bob = (await admin('POST', 'users', JSON.stringify({ name: 'bob' }))).json as Keys;
  const refused = await admin('GET', 'users', undefined, bob);
  t.equal(refused.status, 403, 'no policy: 403');
  t.equal(refused.json.code, 'AccessDenied');
  t.equal((await admin('POST', 'users', JSON.stringify({ name: 'mallory' }), bob)).status, 403);
  t.notOk((await userNames()).includes('mallory'), 'the refused call created nothing');

  // S3 rights grant no admin action.
  t.equal((await admin('PUT', 'users/bob/policies/readwrite')).status, 200);
  t.equal((await admin('GET', 'users', undefined, bob)).status, 403, 'readwrite (s3:*) is not admin');

  const listOnly = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'admin:ListUsers', Resource: '*' }] });
  t.equal((await admin('PUT', 'policies/list-users', listOnly)).status, 200);
  t.equal((await admin('PUT', 'users/bob/policies/list-users')).status, 200);
  t.equal((await admin('GET', 'users', undefined, bob)).status, 200, 'admin:ListUsers allows listing');
  t.equal((await admin('POST', 'users', JSON.stringify({ name: 'mallory' }), bob)).status, 403, '... and nothing else');

  t.equal((await admin('PUT', 'users/bob/policies/admin')).status, 200);
  const made = await admin('POST', 'users', JSON.stringify({ name: 'carol' }), bob);
  t.equal(made.status, 201, 'the built-in admin policy grants admin:*');
  t.equal((await admin('DELETE', 'users/carol', undefined, bob)).status, 200);

  const deny = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Deny', Action: 'admin:DeleteUser', Resource: '*' }] });
  t.equal((await admin('PUT', 'policies/no-deletes', deny)).status, 200);
  t.equal((await admin('PUT', 'users/bob/policies/no-deletes')).status, 200);
  t.equal((await admin('DELETE', 'users/bob', undefined, bob)).status, 403, 'a Deny wins over admin:*');
  t.equal((await admin('DELETE', 'users/bob/policies/no-deletes')).status, 200);
  t.equal((await admin('DELETE', 'users/bob/policies/no-deletes')).status, 404, 'detaching what is not attached');
});

t.test('unsigned, badly signed, presigned and unknown-key requests get 403 and change nothing', async (t) => {
  const before = await userNames();
  const body = JSON.stringify({ name: 'eve' });
  const unsigned = await rawS3(cluster.endpoint, { method: 'POST', bucket: '-', key: 'admin/v1/users', body, anonymous: true });
  t.equal(unsigned.status, 403);
  t.equal(JSON.parse(unsigned.body).code, 'AccessDenied');
  const wrongSecret = await admin('POST', 'users', body, { accessKeyId: TEST_CREDENTIALS.accessKeyId, secretAccessKey: 'not-the-secret' });
  t.equal(wrongSecret.status, 403);
  t.equal(wrongSecret.json.code, 'SignatureDoesNotMatch');
  const unknown = await admin('POST', 'users', body, { accessKeyId: 'NOSUCHKEY', secretAccessKey: 'x' });
  t.equal(unknown.status, 403);
  t.equal(unknown.json.code, 'InvalidAccessKeyId');
  // A body other than the one signed: the signature covers its hash.
  const signedOther = await rawS3(cluster.endpoint, {
    method: 'POST',
    bucket: '-',
    key: 'admin/v1/users',
    body,
    headers: { 'x-amz-content-sha256': 'a'.repeat(64) },
  });
  t.equal(signedOther.status, 400);
  t.same(await userNames(), before, 'no user was made');
});

t.test('hostile bodies and names are answered 400 or 413 and change nothing', async (t) => {
  const before = await userNames();
  const badJson = await admin('POST', 'users', '{"name": "dave"');
  t.equal(badJson.status, 400);
  t.equal(badJson.json.code, 'MalformedJSON');
  t.equal((await admin('POST', 'users', '["dave"]')).status, 400, 'not an object');
  t.equal((await admin('POST', 'users', JSON.stringify({ name: 7 }))).status, 400, 'name not a string');
  const badName = await admin('POST', 'users', JSON.stringify({ name: 'da/ve*' }));
  t.equal(badName.status, 400);
  t.equal(badName.json.code, 'InvalidName');
  t.equal((await admin('POST', 'users', JSON.stringify({ name: 'x'.repeat(65) }))).status, 400, 'too long a name');
  const huge = await admin('POST', 'users', JSON.stringify({ name: 'dave', pad: 'x'.repeat(70 * 1024) }));
  t.equal(huge.status, 413, 'a body past the limit');
  t.equal((await admin('GET', 'no/such/call')).status, 404);
  t.equal((await admin('PATCH', 'users')).status, 405);
  t.same(await userNames(), before, 'nothing was made');
});

t.test('policies: put validates and answers the parse error, get returns the document, list shows who has which', async (t) => {
  const malformed = await admin('PUT', 'policies/broken', JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'ec2:Run', Resource: '*' }] }));
  t.equal(malformed.status, 400);
  t.equal(malformed.json.code, 'MalformedPolicy');
  t.match(malformed.json.message, /invalid action/);
  const notJson = await admin('PUT', 'policies/broken', '{');
  t.equal(notJson.status, 400);
  t.equal((await admin('GET', 'policies/broken')).status, 404, 'nothing was stored');

  const document = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['s3:GetObject'], Resource: ['arn:aws:s3:::pub/*'] }] };
  t.same((await admin('PUT', 'policies/pub-read', JSON.stringify(document))).json, { stored: 'policy', policy: 'pub-read', replaced: false });
  t.same((await admin('GET', 'policies/pub-read')).json, { name: 'pub-read', kind: 'stored', document });
  t.equal((await admin('GET', 'policies/admin')).json.kind, 'built in');
  await admin('POST', 'users', JSON.stringify({ name: 'frank' }));
  t.equal((await admin('PUT', 'users/frank/policies/pub-read')).status, 200);
  t.equal((await admin('PUT', 'users/frank/policies/nope')).status, 404, 'an unknown policy cannot be attached');
  const listed = (await admin('GET', 'policies')).json as { name: string; users: string[] }[];
  t.same(listed.find((p) => p.name === 'pub-read')?.users, ['frank']);
});

t.test('access keys: a second key, disabled then enabled again, then deleted', async (t) => {
  await admin('POST', 'users', JSON.stringify({ name: 'gina' }));
  const key = await admin('POST', 'users/gina/keys');
  t.equal(key.status, 201);
  const s3 = localS3Client(cluster.endpoint, { accessKeyId: key.json.accessKeyId, secretAccessKey: key.json.secretAccessKey }, { maxAttempts: 1 });
  t.teardown(() => s3.destroy());
  t.equal(await statusOf(s3.send(new CreateBucketCommand({ Bucket: 'gina-bucket' }))), 200);
  const keys = (await admin('GET', 'users/gina/keys')).json as { accessKeyId: string }[];
  t.equal(keys.length, 2);
  t.notOk(JSON.stringify(keys).includes(key.json.secretAccessKey));

  t.same((await admin('PUT', `keys/${key.json.accessKeyId}`, JSON.stringify({ enabled: false }))).json, { user: 'gina', accessKeyId: key.json.accessKeyId, enabled: false });
  t.equal(await statusOf(s3.send(new ListBucketsCommand({}))), 403, 'a disabled key signs nothing');
  t.equal((await admin('PUT', `keys/${key.json.accessKeyId}`, JSON.stringify({ enabled: 'no' }))).status, 400);
  t.equal((await admin('PUT', `keys/${key.json.accessKeyId}`, JSON.stringify({ enabled: true }))).status, 200);
  t.equal(await statusOf(s3.send(new ListBucketsCommand({}))), 200, 'enabled again, it signs');
  t.equal((await admin('DELETE', `keys/${key.json.accessKeyId}`)).status, 200);
  t.equal(await statusOf(s3.send(new ListBucketsCommand({}))), 403);
  t.equal((await admin('DELETE', `keys/${key.json.accessKeyId}`)).status, 404);
});

t.test('cluster status answers every node\'s work status', async (t) => {
  const status = await admin('GET', 'status');
  t.equal(status.status, 200);
  t.same(status.json.nodes.map((n: { nodeId: string }) => n.nodeId).sort(), ['node-0', 'node-1', 'node-2']);
  // These nodes run no background work: each answers that, in its own row, as `tessera admin status` shows it.
  t.ok(status.json.nodes.every((n: { figures?: unknown; error?: unknown }) => n.figures !== undefined || typeof n.error === 'string'), 'a row per node');
});

t.test('curl --aws-sigv4 calls the API', async (t) => {
  const run = promisify(execFile);
  const policyFile = join(cluster.dataDir, 'curl-policy.json');
  await writeFile(policyFile, JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:ListBucket', Resource: 'arn:aws:s3:::*' }] }));
  // curl 7.x signs no x-amz-content-sha256 of its own; S3's signatures need one.
  const sigv4 = ['--silent', '--aws-sigv4', 'aws:amz:us-east-1:s3', '--user', `${TEST_CREDENTIALS.accessKeyId}:${TEST_CREDENTIALS.secretAccessKey}`, '-H', 'x-amz-content-sha256: UNSIGNED-PAYLOAD'];
  const listed = await run('curl', [...sigv4, `${cluster.endpoint}/-/admin/v1/users`]);
  t.ok(Array.isArray(JSON.parse(listed.stdout)), 'GET users: a JSON list');
  const put = await run('curl', [...sigv4, '-X', 'PUT', '-H', 'content-type: application/json', '--data-binary', `@${policyFile}`, `${cluster.endpoint}/-/admin/v1/policies/from-curl`]);
  t.same(JSON.parse(put.stdout), { stored: 'policy', policy: 'from-curl', replaced: false });
  const badKey = await run('curl', ['--silent', '--aws-sigv4', 'aws:amz:us-east-1:s3', '--user', `${TEST_CREDENTIALS.accessKeyId}:wrong`, '-H', 'x-amz-content-sha256: UNSIGNED-PAYLOAD', '-w', '%{http_code}', '-o', '/dev/null', `${cluster.endpoint}/-/admin/v1/users`]);
  t.equal(badKey.stdout, '403');
});

t.test('the CLI through --endpoint does what it does through the nodes', async (t) => {
  const direct = ['--config', configFile];
  const made = await cli('user', ['add', 'henry', ...viaEndpoint], adminEnv);
  t.equal(made.code, 0, made.err);
  t.equal(made.json.user, 'henry');
  const directList = await cli('user', ['list', ...direct]);
  t.equal(directList.code, 0, directList.err);
  t.same((await cli('user', ['list', ...viaEndpoint], adminEnv)).json, directList.json, 'one listing, whichever way');
  t.same((await cli('policy', ['list', ...viaEndpoint], adminEnv)).json, (await cli('policy', ['list', ...direct])).json);
  const key = await cli('key', ['add', 'henry', ...direct]);
  t.equal((await cli('key', ['disable', key.json.accessKeyId, ...viaEndpoint], adminEnv)).code, 0);
  t.same((await cli('key', ['list', 'henry', ...direct])).json.find((k: { accessKeyId: string }) => k.accessKeyId === key.json.accessKeyId).enabled, false);
  t.equal((await cli('policy', ['attach', 'henry', 'readonly', ...viaEndpoint], adminEnv)).code, 0);
  t.same((await cli('user', ['show', 'henry', ...direct])).json.policies, ['readonly']);

  const policyFile = join(cluster.dataDir, 'bad-policy.json');
  await writeFile(policyFile, '{"Statement": []}');
  const viaApi = await cli('policy', ['set', 'bad', policyFile, ...viaEndpoint], adminEnv);
  const viaNodes = await cli('policy', ['set', 'bad', policyFile, ...direct]);
  t.equal(viaApi.code, 1);
  t.equal(viaApi.err, viaNodes.err, 'the same parse error');

  const missing = await cli('user', ['remove', 'nobody', ...viaEndpoint], adminEnv);
  t.equal(missing.code, 1);
  t.equal(missing.err, (await cli('user', ['remove', 'nobody', ...direct])).err, 'the same error message');
  const henry = made.json as Keys;
  const asHenry = await cli('user', ['list', ...viaEndpoint], { AWS_ACCESS_KEY_ID: henry.accessKeyId, AWS_SECRET_ACCESS_KEY: henry.secretAccessKey });
  t.equal(asHenry.code, 1, 'a user without admin actions is refused');
  t.match(asHenry.err, /Access Denied/);
  t.equal((await cli('user', ['remove', 'henry', ...viaEndpoint], adminEnv)).code, 0);
  t.equal((await cli('user', ['list', '--endpoint', cluster.endpoint])).code, 1, 'no keys: an error, not an unsigned call');
});

t.test('tessera admin status --endpoint prints the rows it prints through the nodes', async (t) => {
  const run = async (args: string[], env: Record<string, string>): Promise<{ code: number; rows: { nodeId: string }[] }> => {
    let out = '';
    const code = await runAdminCli(['status', ...args, '--json'], env, { stdout: (s) => void (out += s), stderr: () => undefined });
    return { code, rows: JSON.parse(out) as { nodeId: string }[] };
  };
  const viaApi = await run(viaEndpoint, adminEnv);
  const viaNodes = await run(['--config', configFile], {});
  t.same(viaApi.rows, viaNodes.rows, 'the same rows (these nodes run no background work: each says so)');
  t.equal(viaApi.code, viaNodes.code);
});

t.test('the gateway logs each change with its action and names, and never a secret or a body', async (t) => {
  t.ok(secretsSeen.size >= 4, `${secretsSeen.size} secrets were handed out`);
  for (const secret of [...secretsSeen, TEST_CREDENTIALS.secretAccessKey]) t.notOk(logged.includes(secret), 'a secret in the log');
  t.notOk(logged.includes('pub/*'), 'a policy body in the log');
  const changes = logged.split('\n').filter((line) => line.includes('"admin action"')).map((line) => JSON.parse(line) as { action: string; params: string[] });
  t.ok(changes.some((c) => c.action === 'admin:CreateUser'), 'user creation is logged');
  t.ok(changes.some((c) => c.action === 'admin:AttachUserPolicy' && c.params.join('/') === 'frank/pub-read'), 'with the names it acted on');
});
