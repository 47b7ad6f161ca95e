import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CreateBucketCommand, ListBucketsCommand, PutBucketNotificationConfigurationCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { t } from 'tap';
import { runAdminCli } from '../../src/bin/admin-cli.js';
import { runUserCli } from '../../src/bin/user-cli.js';
import { localS3Client, startCluster, statusOf, TEST_CREDENTIALS, writeGatewayConfig } from '../helpers/cluster.js';
import { rawS3, type RawResponse } from '../gateway/raw-s3.js';
import { masterKeyFile } from '../helpers/sse.js';

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
// The master key file KMS keys made through the API are sealed under.
const masterKeys = await masterKeyFile();
t.teardown(() => masterKeys.remove());
const cluster = await startCluster({
  nodeCount: 3,
  dataShards: 2,
  parityShards: 1,
  nodeHealing: false,
  gatewayLogger: pino({ level: 'debug' }, sink),
  gatewayOverrides: { sseMasterKeyFile: masterKeys.path },
});
/** Every secret an answer carried: none may reach the log. */
const secretsSeen = new Set<string>();
t.teardown(() => cluster.close());
// The file `tessera admin --config` reaches the nodes through, with this cluster's 2+1 layout.
const configFile = await writeGatewayConfig(cluster);
await writeFile(configFile, JSON.stringify({ ...JSON.parse(await readFile(configFile, 'utf8')), erasure: { dataShards: 2, parityShards: 1 } }));

type Keys = { accessKeyId: string; secretAccessKey: string };

/** One admin call, signed with `credentials` (the administrator's by default); the status and parsed JSON. */
async function admin(method: string, path: string, body?: string, credentials: Keys = TEST_CREDENTIALS, query?: Record<string, string>): Promise<{ status: number; json: any; raw: RawResponse }> {
  const raw = await rawS3(cluster.endpoint, {
    method,
    bucket: '-',
    key: `admin/v1/${path}`,
    credentials: { ...credentials },
    ...(query === undefined ? {} : { query }),
    ...(body === undefined ? {} : { body, headers: { 'content-type': 'application/json' } }),
  });
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

/** `tessera admin ARGS --json` (target, kms key, ...): exit code, the answer as JSON, and the error text. */
async function adminCli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; json: any; err: string }> {
  let out = '';
  let err = '';
  const code = await runAdminCli([...args, '--json'], env, { stdout: (s) => void (out += s), stderr: (s) => void (err += s) });
  return { code, json: out === '' ? undefined : JSON.parse(out), err };
}

t.test('targets: added with their secrets kept, listed without them, refused when malformed or taken, in force for S3, removed', async (t) => {
  const definition = { type: 'webhook', url: 'http://hook-user:pa55word@127.0.0.1:9/hook', bearerToken: 'token-not-to-show' };
  const added = await admin('PUT', 'targets/hook', JSON.stringify(definition));
  t.equal(added.status, 201, added.raw.body);
  t.same(added.json, { name: 'hook', arn: 'arn:tessera:sqs::hook:webhook', type: 'webhook', url: 'http://hook-user:***@127.0.0.1:9/hook', bearerToken: true, customCa: false });
  const listed = await admin('GET', 'targets');
  t.same(listed.json, [added.json], 'listed as added');
  for (const answer of [added, listed]) t.notOk(/pa55word|token-not-to-show/.test(answer.raw.body), 'no secret in an answer');
  const again = await admin('PUT', 'targets/hook', JSON.stringify({ type: 'webhook', url: 'http://127.0.0.1:9/other' }));
  t.equal(again.status, 409);
  t.equal(again.json.code, 'TargetAlreadyExists');
  const malformed = await admin('PUT', 'targets/broken', JSON.stringify({ type: 'webhook', url: 'ftp://127.0.0.1/x' }));
  t.equal(malformed.status, 400);
  t.equal(malformed.json.code, 'InvalidTarget');
  t.equal((await admin('PUT', 'targets/broken', JSON.stringify({ type: 'carrier-pigeon' }))).json.code, 'InvalidTarget', 'an unknown type');
  t.equal((await admin('PUT', `targets/${encodeURIComponent('bad name')}`, JSON.stringify(definition))).json.code, 'InvalidName');
  t.same((await admin('GET', 'targets')).json.map((row: { name: string }) => row.name), ['hook'], 'nothing refused was stored');

  // In force at once: S3 takes a notification configuration naming it.
  const s3 = cluster.client();
  t.teardown(() => s3.destroy());
  await s3.send(new CreateBucketCommand({ Bucket: 'notified' }));
  await s3.send(new PutBucketNotificationConfigurationCommand({
    Bucket: 'notified',
    NotificationConfiguration: { QueueConfigurations: [{ QueueArn: added.json.arn, Events: ['s3:ObjectCreated:*'] }] },
  }));
  t.pass('a bucket notification names the target');

  // The CLI reads the same list through the API (--gateway) and through the nodes.
  const viaApi = await adminCli(['target', 'list', '--gateway', cluster.endpoint], adminEnv);
  t.equal(viaApi.code, 0, viaApi.err);
  t.same(viaApi.json, (await adminCli(['target', 'list', '--config', configFile])).json, 'one listing, whichever way');
  const removedByCli = await adminCli(['target', 'add', 'hook2', '--type', 'nats', '--url', 'nats://127.0.0.1:4222', '--subject', 'tessera', '--gateway', cluster.endpoint], adminEnv);
  t.equal(removedByCli.code, 0, removedByCli.err);
  t.equal(removedByCli.json.arn, 'arn:tessera:sqs::hook2:nats');
  t.equal((await admin('DELETE', 'targets/hook2')).status, 200);
  t.same(await admin('DELETE', 'targets/hook').then((r) => r.json), { removed: 'target', name: 'hook' });
  const gone = await admin('DELETE', 'targets/hook');
  t.equal(gone.status, 404);
  t.equal(gone.json.code, 'NoSuchTarget');
  t.same((await admin('GET', 'targets')).json, []);
});

t.test('KMS keys: created, listed, rotated, disabled and enabled through the API, and S3 follows each change', async (t) => {
  const created = await admin('POST', 'kms/keys', JSON.stringify({ name: 'models' }));
  t.equal(created.status, 201, created.raw.body);
  t.match(created.json, { name: 'models', arn: 'arn:aws:kms:us-east-1:000000000000:key/models', state: 'Enabled', versions: 1 });
  t.notOk(/sealedRoot|masterKeyId/.test(created.raw.body), 'no key material in the answer');
  t.equal((await admin('POST', 'kms/keys', JSON.stringify({ name: 'models' }))).json.code, 'KmsKeyAlreadyExists');
  t.equal((await admin('POST', 'kms/keys', JSON.stringify({ name: 'aws/s3' }))).json.code, 'InvalidName', 'the default key is made on first use, not created');
  t.equal((await admin('PUT', 'kms/keys/nope', JSON.stringify({ enabled: false }))).status, 404);

  const s3 = cluster.client();
  t.teardown(() => s3.destroy());
  await s3.send(new CreateBucketCommand({ Bucket: 'sealed' }));
  const put = (): Promise<unknown> => s3.send(new PutObjectCommand({ Bucket: 'sealed', Key: 'weights.bin', Body: 'w', ServerSideEncryption: 'aws:kms', SSEKMSKeyId: 'models' }));
  await put();
  t.pass('a key made through the API seals an S3 write at once');
  const rotated = await admin('POST', 'kms/keys/models/rotate');
  t.equal(rotated.json.versions, 2, 'rotation adds a version');
  const disabled = await admin('PUT', 'kms/keys/models', JSON.stringify({ enabled: false }));
  t.equal(disabled.json.state, 'Disabled');
  await t.rejects(put(), { name: 'KMS.DisabledException' }, 'a disabled key refuses writes');
  t.equal((await admin('PUT', 'kms/keys/models', JSON.stringify({ enabled: true }))).json.state, 'Enabled');
  await put();

  const viaApi = await adminCli(['kms', 'key', 'list', ...viaEndpoint], adminEnv);
  t.equal(viaApi.code, 0, viaApi.err);
  t.same(viaApi.json, (await adminCli(['kms', 'key', 'list', '--config', configFile])).json, 'one listing, whichever way');
  t.same(viaApi.json.find((k: { name: string }) => k.name === 'models'), { ...created.json, versions: 2, rotatedMs: rotated.json.rotatedMs });
  const cliRotate = await adminCli(['kms', 'key', 'rotate', 'models', ...viaEndpoint], adminEnv);
  t.equal(cliRotate.json.versions, 3, 'the CLI rotates through the API');
  t.equal((await adminCli(['kms', 'key', 'create', 'models', ...viaEndpoint], adminEnv)).code, 1, 'and answers its refusals');
});

t.test('cluster reads: the ring and every node, healing figures, and the shard map of an object version', async (t) => {
  const overview = await admin('GET', 'cluster');
  t.equal(overview.status, 200);
  t.equal(overview.json.nodes.length, 3);
  t.ok(overview.json.nodes.every((n: { state: string }) => n.state === 'ok'), 'every node up');
  const slots = overview.json.nodes.reduce((sum: number, n: { slots: number }) => sum + n.slots, 0);
  t.equal(slots, overview.json.partitions * 3, 'every ring slot on a node');
  t.ok(overview.json.nodes.every((n: { slots: number; idealSlots: number }) => Math.abs(n.slots - n.idealSlots) <= 1), 'balanced to its share by weight');
  const healing = await admin('GET', 'healing');
  t.same(healing.json.nodes.map((n: { nodeId: string }) => n.nodeId).sort(), ['node-0', 'node-1', 'node-2']);
  t.ok(Array.isArray(healing.json.events), 'with the delivery figures per target');

  const s3 = cluster.client();
  t.teardown(() => s3.destroy());
  await s3.send(new CreateBucketCommand({ Bucket: 'mapped' }));
  await s3.send(new PutObjectCommand({ Bucket: 'mapped', Key: 'a/b c.txt', Body: 'shard me' }));
  const map = await admin('GET', 'objects', undefined, TEST_CREDENTIALS, { bucket: 'mapped', key: 'a/b c.txt' });
  t.equal(map.status, 200, map.raw.body);
  t.match(map.json, { found: true, sizeBytes: 8, dataShards: 2, parityShards: 1, healthyShards: 3 });
  t.equal(map.json.shards.length, 3, 'one row per shard');
  t.equal(new Set(map.json.shards.map((s: { nodeId: string }) => s.nodeId)).size, 3, 'on three nodes');
  t.match((await admin('GET', 'objects', undefined, TEST_CREDENTIALS, { bucket: 'mapped', key: 'missing' })).json, { found: false });
  const noBucket = await admin('GET', 'objects', undefined, TEST_CREDENTIALS, { bucket: 'no-such-bucket', key: 'k' });
  t.equal(noBucket.status, 404);
  t.equal(noBucket.json.code, 'NoSuchBucket');
  t.equal((await admin('GET', 'objects', undefined, TEST_CREDENTIALS, { bucket: 'mapped' })).json.code, 'InvalidArgument', 'a key is needed');
  const badVersion = await admin('GET', 'objects', undefined, TEST_CREDENTIALS, { bucket: 'mapped', key: 'k', versionId: 'bad' });
  t.same([badVersion.status, badVersion.json.code], [404, 'NoSuchVersion'], 'a malformed version id names no version, as for S3');

  // These nodes run no background work: a heal answers each node's refusal in its row and starts nothing.
  const heal = await admin('POST', 'healing', JSON.stringify({ fast: true }));
  t.equal(heal.status, 200, heal.raw.body);
  t.equal(heal.json.nodes.length, 3);
  t.equal(heal.json.started, heal.json.nodes.filter((n: { error?: string }) => n.error === undefined).length);
  t.equal((await admin('POST', 'healing', JSON.stringify({ fast: 'yes' }))).json.code, 'InvalidArgument');
  const viaCli = await adminCli(['heal', '--fast', ...viaEndpoint], adminEnv);
  t.same(viaCli.json, heal.json.nodes, '`tessera admin heal --endpoint` prints the same rows');
  t.equal(viaCli.code, 1, 'and exits 1 while a node did not start');
});

t.test('tessera admin bucket quota --endpoint sets, shows and clears what it does through the nodes', async (t) => {
  const s3 = cluster.client();
  t.teardown(() => s3.destroy());
  await s3.send(new CreateBucketCommand({ Bucket: 'quota-cli' }));
  const set = await adminCli(['bucket', 'quota', 'quota-cli', '--max-objects', '5', ...viaEndpoint], adminEnv);
  t.equal(set.code, 0, set.err);
  t.same(set.json.quota, { maxObjects: 5 });
  t.same((await adminCli(['bucket', 'quota', 'quota-cli', '--config', configFile])).json.quota, { maxObjects: 5 }, 'the nodes hold what the API set');
  t.same((await adminCli(['bucket', 'quota', 'quota-cli', '--clear', ...viaEndpoint], adminEnv)).json.quota, null);
  t.equal((await adminCli(['bucket', 'quota', 'no-such-bucket', ...viaEndpoint], adminEnv)).code, 2, 'an unknown bucket exits 2, as through the nodes');
});

t.test('the gateway logs each change with its action and names, and never a secret or a body', async (t) => {
  t.ok(secretsSeen.size >= 4, `${secretsSeen.size} secrets were handed out`);
  for (const secret of [...secretsSeen, TEST_CREDENTIALS.secretAccessKey]) t.notOk(logged.includes(secret), 'a secret in the log');
  t.notOk(logged.includes('pub/*'), 'a policy body in the log');
  t.notOk(/pa55word|token-not-to-show/.test(logged), "a target's secret in the log");
  const changes = logged.split('\n').filter((line) => line.includes('"admin action"')).map((line) => JSON.parse(line) as { action: string; params: string[] });
  t.ok(changes.some((c) => c.action === 'admin:CreateUser'), 'user creation is logged');
  t.ok(changes.some((c) => c.action === 'admin:AttachUserPolicy' && c.params.join('/') === 'frank/pub-read'), 'with the names it acted on');
});
