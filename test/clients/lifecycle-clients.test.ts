import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { t } from 'tap';
import { bucketName } from '../helpers/bytes.js';
import { commandOutput, isolatedAwsEnv, probeClient, requireClient, runCommand, type CommandResult } from '../helpers/clients.js';
import { startCluster, TEST_CREDENTIALS } from '../helpers/cluster.js';
import { repoFile } from '../helpers/tree.js';

/**
 * Bucket lifecycle configuration driven by the clients people set it with: boto3 (the current and the
 * legacy lifecycle calls, and the Expiration/AbortDate fields it parses) under every Python with boto3
 * here, and aws-cli's s3api under every aws-cli here. The boto3 steps live in boto3_lifecycle.py, which
 * exits non-zero naming the first mismatch.
 */

const SCRIPT = repoFile('test/clients/boto3_lifecycle.py');
const TIMEOUT_MS = 120_000;

const cluster = await startCluster({ nodeHealing: false, gatewayOverrides: { metadataTimeoutMs: 10_000, stallTimeoutMs: 10_000 } });
t.teardown(() => cluster.close());
const work = await mkdtemp(join(tmpdir(), 'tessera-lifecycle-clients-'));
t.teardown(() => rm(work, { recursive: true, force: true }));

for (const python of [
  { name: 'boto3 of python3 on PATH', command: 'python3' },
  { name: 'Debian boto3 (/usr/bin/python3)', command: '/usr/bin/python3' },
]) {
  t.test(`${python.name}: put/get/delete lifecycle configuration, legacy Prefix rules, Expiration and AbortDate fields, refused Transition`, async (t) => {
    const env = await isolatedAwsEnv(TEST_CREDENTIALS, await mkdtemp(join(work, 'py-')));
    const probe = await probeClient(python.command, ['-c', 'import boto3; print("boto3", boto3.__version__)'], env);
    if (!requireClient(t, python.name, probe)) return;
    const result = await runCommand(python.command, [SCRIPT, '--endpoint', cluster.endpoint, '--bucket', bucketName('b3lc')], { env, timeoutMs: TIMEOUT_MS });
    t.equal(result.code, 0, 'the script passes every step', commandOutput(result));
    t.match(result.stdout, /^PASS$/m);
  });
}

for (const cli of [
  { name: 'aws-cli on PATH', command: 'aws' },
  { name: 'Debian aws-cli v2 (/usr/bin/aws)', command: '/usr/bin/aws' },
]) {
  t.test(`${cli.name}: s3api put-, get- and delete-bucket-lifecycle(-configuration), head-object Expiration`, async (t) => {
    const dir = await mkdtemp(join(work, 'cli-'));
    const env = await isolatedAwsEnv(TEST_CREDENTIALS, dir);
    const probe = await probeClient(cli.command, ['--version'], env);
    if (!requireClient(t, cli.name, probe)) return;
    const aws = async (...args: string[]): Promise<CommandResult> =>
      runCommand(cli.command, ['--endpoint-url', cluster.endpoint, '--output', 'json', ...args], { env, timeoutMs: TIMEOUT_MS });
    const ok = async (...args: string[]): Promise<string> => {
      const result = await aws(...args);
      t.equal(result.code, 0, `aws ${args.slice(0, 2).join(' ')}`, commandOutput(result));
      return result.stdout;
    };
    const bucket = bucketName('clilc');
    await ok('s3api', 'create-bucket', '--bucket', bucket);
    const missing = await aws('s3api', 'get-bucket-lifecycle-configuration', '--bucket', bucket);
    t.not(missing.code, 0, 'no configuration yet');
    t.match(missing.stderr, /NoSuchLifecycleConfiguration/);
    const config = join(dir, 'lifecycle.json');
    await writeFile(
      config,
      JSON.stringify({
        Rules: [
          { ID: 'expire-tmp', Status: 'Enabled', Filter: { Prefix: 'tmp/' }, Expiration: { Days: 2 } },
          { ID: 'old-versions', Status: 'Enabled', Filter: {}, NoncurrentVersionExpiration: { NoncurrentDays: 10 }, AbortIncompleteMultipartUpload: { DaysAfterInitiation: 3 } },
        ],
      }),
    );
    await ok('s3api', 'put-bucket-lifecycle-configuration', '--bucket', bucket, '--lifecycle-configuration', `file://${config}`);
    const got = JSON.parse(await ok('s3api', 'get-bucket-lifecycle-configuration', '--bucket', bucket)) as { Rules: { ID: string; Expiration?: { Days?: number } }[] };
    t.same(got.Rules.map((rule) => rule.ID), ['expire-tmp', 'old-versions']);
    t.equal(got.Rules[0]?.Expiration?.Days, 2);
    const file = join(dir, 'x.txt');
    await writeFile(file, 'x');
    await ok('s3api', 'put-object', '--bucket', bucket, '--key', 'tmp/x.txt', '--body', file);
    const head = JSON.parse(await ok('s3api', 'head-object', '--bucket', bucket, '--key', 'tmp/x.txt')) as { Expiration?: string };
    t.match(head.Expiration ?? '', /^expiry-date="[^"]+ 00:00:00 GMT", rule-id="expire-tmp"$/, 'head-object shows when the rule expires it');
    const transition = join(dir, 'transition.json');
    await writeFile(transition, JSON.stringify({ Rules: [{ ID: 'cold', Status: 'Enabled', Filter: {}, Transitions: [{ Days: 30, StorageClass: 'GLACIER' }] }] }));
    const refused = await aws('s3api', 'put-bucket-lifecycle-configuration', '--bucket', bucket, '--lifecycle-configuration', `file://${transition}`);
    t.not(refused.code, 0, 'a Transition rule is refused');
    t.match(refused.stderr, /InvalidRequest/);
    await ok('s3api', 'delete-bucket-lifecycle', '--bucket', bucket);
    const gone = await aws('s3api', 'get-bucket-lifecycle-configuration', '--bucket', bucket);
    t.match(gone.stderr, /NoSuchLifecycleConfiguration/, 'deleted');
  });
}
