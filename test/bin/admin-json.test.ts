import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { t } from 'tap';
import { ListBucketsCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { runAdminCli } from '../../src/bin/admin-cli.js';
import { masterKeyLine } from '../../src/gateway/index.js';
import { clusterWithBucket, localS3Client } from '../helpers/cluster.js';
import { masterKeyFile } from '../helpers/sse.js';

/**
 * Every admin command that changes or lists users, keys, policies and master keys prints one JSON
 * document with --json, which a script can parse and act on.
 */

const keys = await masterKeyFile();
t.teardown(() => keys.remove());
const { cluster, s3, bucket } = await clusterWithBucket(t, { gatewayOverrides: { sseMasterKeyFile: keys.path } });
const configPath = join(cluster.dataDir, 'gateway.json');
await writeFile(configPath, JSON.stringify({ nodes: cluster.config.nodes, clusterSecret: cluster.config.clusterSecret, credentials: cluster.config.credentials, sseMasterKeyFile: keys.path }));

/** Runs `tessera admin ARGS --config FILE --json` and parses what it printed. */
async function admin(...args: string[]): Promise<unknown> {
  let out = '';
  let err = '';
  const code = await runAdminCli([...args, '--config', configPath, '--json'], {}, { stdout: (s) => void (out += s), stderr: (s) => void (err += s) });
  if (code !== 0) throw new Error(`tessera admin ${args.join(' ')} exited ${code}: ${err}`);
  return JSON.parse(out) as unknown;
}

interface UserRow {
  name: string;
  canonicalId: string;
  createdMs: number;
  accessKeyIds: string[];
  policies: string[];
}

t.test('user, key and policy commands print JSON a script can use', async (t) => {
  const added = (await admin('user', 'add', 'trainer')) as { user: string; canonicalId: string; accessKeyId: string; secretAccessKey: string };
  t.equal(added.user, 'trainer');
  t.match(added.canonicalId, /^[0-9a-f]{64}$/);
  t.match(added.accessKeyId, /^TK[A-Z2-7]{18}$/);
  // The printed secret signs S3 requests (the gateway learns a new key on first use).
  const asTrainer = localS3Client(cluster.endpoint, { accessKeyId: added.accessKeyId, secretAccessKey: added.secretAccessKey });
  t.teardown(() => asTrainer.destroy());
  await asTrainer.send(new ListBucketsCommand({}));

  const second = (await admin('key', 'add', 'trainer')) as { user: string; accessKeyId: string; secretAccessKey: string };
  t.equal(second.user, 'trainer');
  t.not(second.accessKeyId, added.accessKeyId);
  t.equal(second.secretAccessKey.length, 40);

  let users = (await admin('user', 'list')) as UserRow[];
  t.same(
    users.map((u) => ({ name: u.name, canonicalId: u.canonicalId, keys: u.accessKeyIds, policies: u.policies })),
    [{ name: 'trainer', canonicalId: added.canonicalId, keys: [added.accessKeyId, second.accessKeyId], policies: [] }],
  );
  t.equal(JSON.stringify(users).includes(added.secretAccessKey), false, 'a listing never shows a secret');

  const policyFile = join(cluster.dataDir, 'no-deletes.json');
  await writeFile(policyFile, JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Deny', Action: 's3:DeleteObject', Resource: '*' }] }));
  t.same(await admin('policy', 'set', 'no-deletes', policyFile), { stored: 'policy', policy: 'no-deletes', replaced: false });
  t.same(await admin('policy', 'set', 'no-deletes', policyFile), { stored: 'policy', policy: 'no-deletes', replaced: true });
  t.same(await admin('policy', 'attach', 'trainer', 'readonly'), { user: 'trainer', policy: 'readonly', attached: true });
  t.same(await admin('policy', 'attach', 'trainer', 'no-deletes'), { user: 'trainer', policy: 'no-deletes', attached: true });
  const policies = (await admin('policy', 'list')) as { name: string; kind: string; users: string[] }[];
  t.same(policies.find((p) => p.name === 'readonly'), { name: 'readonly', kind: 'built in', users: ['trainer'] });
  t.same(policies.find((p) => p.name === 'no-deletes'), { name: 'no-deletes', kind: 'stored', users: ['trainer'] });
  t.same(policies.find((p) => p.name === 'writeonly'), { name: 'writeonly', kind: 'built in', users: [] });
  t.same(await admin('policy', 'detach', 'trainer', 'readonly'), { user: 'trainer', policy: 'readonly', attached: false });
  users = (await admin('user', 'list')) as UserRow[];
  t.same(users[0]?.policies, ['no-deletes']);

  t.same(await admin('key', 'remove', added.accessKeyId), { removed: 'key', user: 'trainer', accessKeyId: added.accessKeyId });
  users = (await admin('user', 'list')) as UserRow[];
  t.same(users[0]?.accessKeyIds, [second.accessKeyId]);
  t.same(await admin('user', 'remove', 'trainer'), { removed: 'user', user: 'trainer', accessKeyIds: [second.accessKeyId] });
  t.same(await admin('user', 'list'), []);
});

t.test('a failing command with --json exits non-zero and explains on stderr, printing nothing on stdout', async (t) => {
  let out = '';
  let err = '';
  const code = await runAdminCli(['user', 'remove', 'nobody', '--config', configPath, '--json'], {}, { stdout: (s) => void (out += s), stderr: (s) => void (err += s) });
  t.equal(code, 1);
  t.equal(out, '');
  t.match(err, /no user nobody/);
});

t.test('kms rotate --json reports the new master key and how many data keys it re-sealed', async (t) => {
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'sealed', Body: 'secret bytes', ServerSideEncryption: 'AES256' }));
  const newKey = masterKeyLine(randomBytes(32));
  await writeFile(keys.path, newKey + (await readFile(keys.path, 'utf8')), { mode: 0o600 });
  const first = (await admin('kms', 'rotate')) as { masterKeyId: string; resealed: number; examined: number; changed: number; nodes: number };
  t.equal(first.masterKeyId, newKey.split(' ')[0]);
  t.equal(first.nodes, 6);
  t.equal(first.resealed, 6, 'the one object, sealed on each of its six nodes');
  t.ok(first.examined >= 6);
  const again = (await admin('kms', 'rotate')) as { resealed: number };
  t.equal(again.resealed, 0, 'nothing is left under the old key');
});
