import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { t } from 'tap';
import { runAdminCli } from '../../src/bin/admin-cli.js';
import { startCluster, writeGatewayConfig } from '../helpers/cluster.js';

/**
 * `tessera admin target add|list|remove` against real nodes: the target is stored cluster-wide beside
 * users and policies, `add` prints its ARN, and no secret of a definition is ever printed back.
 */

const cluster = await startCluster({ nodeHealing: false });
t.teardown(() => cluster.close());
const configPath = await writeGatewayConfig(cluster);

async function admin(args: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runAdminCli(['target', ...args, '--config', configPath], env, { stdout: (s) => void (out += s), stderr: (s) => void (err += s) });
  return { code, out, err };
}

t.test('add prints the ARN a bucket configuration names the target by, and list shows it', async (t) => {
  const added = await admin(['add', 'builds', '--type', 'amqp', '--url', 'amqp://127.0.0.1:5672', '--exchange', 'tessera', '--routing-key', 'objects']);
  t.equal(added.code, 0, added.err);
  t.equal(added.out, 'arn:tessera:sqs::builds:amqp\n');
  const listed = await admin(['list', '--json']);
  t.equal(listed.code, 0, listed.err);
  t.same(JSON.parse(listed.out), [
    { name: 'builds', arn: 'arn:tessera:sqs::builds:amqp', type: 'amqp', url: 'amqp://127.0.0.1:5672', exchange: 'tessera', routingKey: 'objects' },
  ]);
  const again = await admin(['add', 'builds', '--type', 'nats', '--url', 'nats://127.0.0.1:4222', '--subject', 's']);
  t.equal(again.code, 1, 'a name is defined once');
  t.match(again.err, /already exists/);
  t.equal((await admin(['remove', 'builds'])).code, 0);
  t.same(JSON.parse((await admin(['list', '--json'])).out), [], 'a removed target is gone');
  t.equal((await admin(['remove', 'builds'])).code, 1, 'removing it twice says there is none');
});

t.test('a bearer token comes from a file or the environment and is never listed', async (t) => {
  const tokenFile = join(cluster.dataDir, 'hook-token');
  await writeFile(tokenFile, 'file-token-SECRET\n', { mode: 0o600 });
  t.equal((await admin(['add', 'hook-a', '--type', 'webhook', '--url', 'https://hooks.example/a', '--token-file', tokenFile])).code, 0);
  t.equal((await admin(['add', 'hook-b', '--type', 'webhook', '--url', 'https://hooks.example/b', '--token-env', 'HOOK_TOKEN'], { HOOK_TOKEN: 'env-token-SECRET' })).code, 0);
  const text = await admin(['list']);
  const json = await admin(['list', '--json']);
  t.notMatch(text.out + json.out, /SECRET/, 'no token in either listing');
  t.match(JSON.parse(json.out), [{ name: 'hook-a', bearerToken: true }, { name: 'hook-b', bearerToken: true }]);
  const unset = await admin(['add', 'hook-c', '--type', 'webhook', '--url', 'https://hooks.example/c', '--token-env', 'UNSET_VARIABLE']);
  t.equal(unset.code, 1);
  t.match(unset.err, /UNSET_VARIABLE is not set/);
});

t.test('a URL with a password is refused on the command line, taken from a file, and listed without it', async (t) => {
  const inline = await admin(['add', 'cache', '--type', 'redis', '--url', 'redis://default:pa55word@127.0.0.1:6379', '--key', 'events']);
  t.equal(inline.code, 1);
  t.match(inline.err, /--url-file/);
  t.notMatch(inline.err, /pa55word/, 'the refusal does not echo the password');
  const urlFile = join(cluster.dataDir, 'redis-url');
  await writeFile(urlFile, 'redis://default:pa55word@127.0.0.1:6379\n', { mode: 0o600 });
  const added = await admin(['add', 'cache', '--type', 'redis', '--url-file', urlFile, '--key', 'events', '--format', 'stream']);
  t.equal(added.code, 0, added.err);
  t.equal(added.out, 'arn:tessera:sqs::cache:redis\n');
  const listed = JSON.parse((await admin(['list', '--json'])).out) as { name: string; url: string; format: string }[];
  t.match(listed.find((row) => row.name === 'cache'), { url: 'redis://default:***@127.0.0.1:6379', format: 'stream' });
  t.notMatch(JSON.stringify(listed), /pa55word/);
});

t.test('a wrong definition is refused before any node is asked, naming the field', async (t) => {
  const cases: [string[], RegExp][] = [
    [['add', 'q', '--type', 'mqtt', '--url', 'mqtt://127.0.0.1:1883', '--topic', 'a/#'], /no \+ or #/],
    [['add', 'q', '--type', 'nats', '--url', 'http://127.0.0.1:4222', '--subject', 's'], /nats: or tls:/],
    [['add', 'q', '--type', 'kafka', '--url', 'kafka://127.0.0.1'], /type is one of/],
    [['add', 'bad:name', '--type', 'nats', '--url', 'nats://127.0.0.1', '--subject', 's'], /invalid target name/],
  ];
  for (const [args, message] of cases) {
    const result = await admin(args);
    t.equal(result.code, 1, args.join(' '));
    t.match(result.err, message);
  }
  t.equal((await admin(['frobnicate'])).code, 2, 'an unknown command prints the usage');
});

t.test("targets are not users: user list does not show them", async (t) => {
  let out = '';
  const code = await runAdminCli(['user', 'list', '--config', configPath, '--json'], {}, { stdout: (s) => void (out += s), stderr: () => undefined });
  t.equal(code, 0);
  t.same(JSON.parse(out), []);
  t.ok((await readFile(configPath, 'utf8')).length > 0);
});

t.test('an s3 target takes its secret key from a file or the environment, prints its replication ARN, and is listed without the secret', async (t) => {
  const keyFile = join(cluster.dataDir, 'site-b-secret');
  await writeFile(keyFile, 'file-secret-SECRET\n', { mode: 0o600 });
  const fromFile = await admin(['add', 'site-b', '--type', 's3', '--endpoint', 'https://s3.site-b.example:9000', '--bucket', 'replicas', '--access-key', 'AKIDSITEB', '--secret-key-file', keyFile]);
  t.equal(fromFile.code, 0, fromFile.err);
  t.equal(fromFile.out, 'arn:tessera:replication::site-b:replicas\n');
  const fromEnv = await admin(
    ['add', 'site-c', '--type', 's3', '--endpoint', 'http://127.0.0.1:9100', '--bucket', 'copies', '--region', 'eu-central-1', '--access-key', 'AKIDSITEC', '--secret-key-env', 'SITE_C_SECRET'],
    { SITE_C_SECRET: 'env-secret-SECRET' },
  );
  t.equal(fromEnv.code, 0, fromEnv.err);
  const text = await admin(['list']);
  const json = await admin(['list', '--json']);
  t.notMatch(text.out + json.out, /SECRET/, 'no secret key in either listing');
  t.match(text.out, /^site-b\tarn:tessera:replication::site-b:replicas\ts3\thttps:\/\/s3\.site-b\.example:9000$/m);
  const rows = JSON.parse(json.out) as Record<string, unknown>[];
  t.same(
    rows.filter((row) => row['type'] === 's3'),
    [
      { name: 'site-b', arn: 'arn:tessera:replication::site-b:replicas', type: 's3', url: 'https://s3.site-b.example:9000', bucket: 'replicas', region: 'us-east-1', accessKeyId: 'AKIDSITEB', secretAccessKey: true },
      { name: 'site-c', arn: 'arn:tessera:replication::site-c:copies', type: 's3', url: 'http://127.0.0.1:9100', bucket: 'copies', region: 'eu-central-1', accessKeyId: 'AKIDSITEC', secretAccessKey: true },
    ],
  );
  t.equal((await admin(['remove', 'site-c'])).code, 0);
});

t.test('an s3 target is refused without a secret key source, with a secret in the endpoint, or with a wrong field, before any node is asked', async (t) => {
  const base = ['add', 'site-x', '--type', 's3', '--endpoint', 'https://s3.site-x.example', '--bucket', 'replicas', '--access-key', 'AKIDX'];
  const cases: [string[], Record<string, string>, RegExp][] = [
    [base, {}, /--secret-key-file or --secret-key-env, never from the command line/],
    [[...base, '--secret-key-env', 'UNSET_SECRET'], {}, /UNSET_SECRET is not set/],
    [[...base, '--secret-key-env', 'S', '--secret-key-file', '/nonexistent'], { S: 'x' }, /not both/],
    [['add', 'site-x', '--type', 's3', '--endpoint', 'https://AKIDX:pa55word@s3.site-x.example', '--bucket', 'replicas', '--access-key', 'AKIDX', '--secret-key-env', 'S'], { S: 'x' }, /no user or password/],
    [['add', 'site-x', '--type', 's3', '--endpoint', 'https://s3.site-x.example', '--bucket', 'a/b', '--access-key', 'AKIDX', '--secret-key-env', 'S'], { S: 'x' }, /bucket is a bucket name/],
    [['add', 'site-x', '--type', 's3', '--endpoint', 'https://s3.site-x.example', '--bucket', 'replicas', '--secret-key-env', 'S'], { S: 'x' }, /accessKeyId is required/],
    [['add', 'site-x', '--type', 's3', '--url', 'https://s3.site-x.example', '--bucket', 'replicas', '--access-key', 'AKIDX', '--secret-key-env', 'S'], { S: 'x' }, /--endpoint, not --url/],
  ];
  for (const [args, env, message] of cases) {
    const result = await admin(args, env);
    t.equal(result.code, 1, args.join(' '));
    t.match(result.err, message);
    t.notMatch(result.err, /pa55word/, 'a refusal never echoes a secret');
  }
  const inline = await admin([...base, '--secret-key', 'inline-pa55word']);
  t.equal(inline.code, 2, 'there is no option that takes the secret key itself');
  t.notMatch(inline.err, /pa55word/);
  t.same((JSON.parse((await admin(['list', '--json'])).out) as { name: string }[]).filter((row) => row.name === 'site-x'), [], 'nothing was stored');
});
