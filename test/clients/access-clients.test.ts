import { createHmac } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { t } from 'tap';
import { bucketName } from '../helpers/bytes.js';
import { commandOutput, isolatedAwsEnv, probeClient, requireClient, runCommand } from '../helpers/clients.js';
import { startDevServer } from '../helpers/server.js';
import { repoFile, tesseraArgs } from '../helpers/tree.js';

/**
 * Access control as real clients meet it, against `tessera dev` (what `npm start` runs): users made
 * with the `tessera admin user add` command itself, boto3 as the owner, a second user and anonymous
 * (botocore UNSIGNED), and aws-cli with one profile per user setting `--acl public-read`; server access
 * logging and x-amz-expected-bucket-owner with both clients.
 */

const SCRIPT = repoFile('test/clients/boto3_access.py');
const SIGV2_SCRIPT = repoFile('test/clients/boto3_sigv2.py');
const LOGS_SCRIPT = repoFile('test/clients/boto3_access_logs.py');
const TIMEOUT_MS = 120_000;

const work = await mkdtemp(join(tmpdir(), 'tessera-access-'));
t.teardown(() => rm(work, { recursive: true, force: true }));
const server = await startDevServer(t);

async function addUser(name: string): Promise<[string, string]> {
  const result = await runCommand(process.execPath, tesseraArgs('admin', 'user', 'add', name, '--data', server.dataDir), { timeoutMs: TIMEOUT_MS });
  if (result.code !== 0) throw new Error(`tessera admin user add ${name}: ${result.stderr}`);
  const access = /^access key: (\S+)$/m.exec(result.stdout)?.[1];
  const secret = /^secret key: (\S+)$/m.exec(result.stdout)?.[1];
  if (access === undefined || secret === undefined) throw new Error(`no keys printed: ${result.stdout}`);
  return [access, secret];
}

const owner = await addUser('data-team');
const other = await addUser('trainer');

t.test('tessera admin user list against the embedded default names the users', async (t) => {
  const result = await runCommand(process.execPath, tesseraArgs('admin', 'user', 'list', '--data', server.dataDir), { timeoutMs: TIMEOUT_MS });
  t.equal(result.code, 0, result.stderr);
  t.match(result.stdout, /^data-team\t/m);
  t.match(result.stdout, /^trainer\t/m);
});

for (const interpreter of ['python3', '/usr/bin/python3']) {
  t.test(`boto3 (${interpreter}) as owner, other user and anonymous: ACL='public-read', UNSIGNED reads, denied writes, presigned refusal, put_object_acl`, async (t) => {
    const probe = await probeClient(interpreter, ['-c', 'import boto3; print("boto3", boto3.__version__)']);
    if (!requireClient(t, `boto3 (${interpreter})`, probe)) return;
    const dir = await mkdtemp(join(work, 'boto3-'));
    const env = await isolatedAwsEnv(server, dir);
    const result = await runCommand(
      interpreter,
      [SCRIPT, '--endpoint', server.endpoint, '--bucket', bucketName('boto3-acl'), '--owner', ...owner, '--other', ...other],
      { env, timeoutMs: TIMEOUT_MS },
    );
    t.comment(result.stdout.trim());
    t.equal(result.code, 0, 'every step matches', commandOutput(result));
    t.match(result.stdout, /^OK$/m);
  });
}

t.test('aws-cli with a profile per user: s3 cp --acl public-read is readable anonymously, the other profile is denied', async (t) => {
  const probe = await probeClient('aws', ['--version']);
  if (!requireClient(t, 'aws-cli', probe)) return;
  const dir = await mkdtemp(join(work, 'cli-'));
  const env = await isolatedAwsEnv(server, dir);
  await writeFile(
    env['AWS_SHARED_CREDENTIALS_FILE'] as string,
    `[owner]\naws_access_key_id = ${owner[0]}\naws_secret_access_key = ${owner[1]}\n[other]\naws_access_key_id = ${other[0]}\naws_secret_access_key = ${other[1]}\n`,
  );
  delete env['AWS_ACCESS_KEY_ID'];
  delete env['AWS_SECRET_ACCESS_KEY'];
  const aws = (...args: string[]) => runCommand('aws', ['--endpoint-url', server.endpoint, ...args], { env, timeoutMs: TIMEOUT_MS });
  const bucket = bucketName('cli-acl');
  const file = join(dir, 'model.bin');
  await writeFile(file, 'weights');
  const mb = await aws('s3', 'mb', `s3://${bucket}`, '--profile', 'owner');
  t.equal(mb.code, 0, 'owner makes a bucket', commandOutput(mb));
  const cp = await aws('s3', 'cp', file, `s3://${bucket}/public/model.bin`, '--acl', 'public-read', '--profile', 'owner');
  t.equal(cp.code, 0, 's3 cp --acl public-read', commandOutput(cp));
  const privateCp = await aws('s3', 'cp', file, `s3://${bucket}/private/model.bin`, '--profile', 'owner');
  t.equal(privateCp.code, 0, commandOutput(privateCp).stderr);
  const anonymous = await fetch(`${server.endpoint}/${bucket}/public/model.bin`);
  t.equal(anonymous.status, 200, 'plain anonymous HTTP GET of the public-read object');
  t.equal(await anonymous.text(), 'weights');
  t.equal((await fetch(`${server.endpoint}/${bucket}/private/model.bin`)).status, 403, 'the private one is refused');
  const otherLs = await aws('s3', 'ls', `s3://${bucket}/`, '--profile', 'other');
  t.not(otherLs.code, 0, 'the other profile cannot list');
  t.match(otherLs.stderr, /AccessDenied/);
  const otherGet = await aws('s3', 'cp', `s3://${bucket}/public/model.bin`, join(dir, 'copy.bin'), '--profile', 'other');
  t.equal(otherGet.code, 0, 'but reads the public-read object', commandOutput(otherGet));
  const unsignedLs = await aws('s3', 'ls', `s3://${bucket}/`, '--no-sign-request');
  t.not(unsignedLs.code, 0, '--no-sign-request cannot list a private bucket');
  const acl = await aws('s3api', 'put-bucket-acl', '--bucket', bucket, '--acl', 'public-read', '--profile', 'owner');
  t.equal(acl.code, 0, commandOutput(acl).stderr);
  const unsignedLs2 = await aws('s3', 'ls', `s3://${bucket}/`, '--recursive', '--no-sign-request');
  t.equal(unsignedLs2.code, 0, '--no-sign-request lists it once public-read', commandOutput(unsignedLs2));
  t.match(unsignedLs2.stdout, /public\/model\.bin/);
  const getAcl = await aws('s3api', 'get-object-acl', '--bucket', bucket, '--key', 'public/model.bin', '--profile', 'other');
  t.not(getAcl.code, 0, 'reading an ACL needs READ_ACP');
});

t.test('boto3: put/get_bucket_logging, log lines of 26 fields for its requests, logging off, and ExpectedBucketOwner refusals', async (t) => {
  const probe = await probeClient('python3', ['-c', 'import boto3; print("boto3", boto3.__version__)']);
  if (!requireClient(t, 'boto3', probe)) return;
  const dir = await mkdtemp(join(work, 'logs-'));
  const env = await isolatedAwsEnv(server, dir);
  const result = await runCommand('python3', [LOGS_SCRIPT, '--endpoint', server.endpoint, '--bucket', bucketName('boto3-logged'), '--owner', ...owner], { env, timeoutMs: TIMEOUT_MS });
  t.comment(result.stdout.trim());
  t.equal(result.code, 0, 'every step matches', commandOutput(result));
  t.match(result.stdout, /^OK$/m);
});

t.test('aws-cli: s3api put-bucket-logging, s3 cp into the logged bucket, its log object listed with s3 ls, and --expected-bucket-owner refused', async (t) => {
  const probe = await probeClient('aws', ['--version']);
  if (!requireClient(t, 'aws-cli', probe)) return;
  const dir = await mkdtemp(join(work, 'cli-logs-'));
  const env = { ...(await isolatedAwsEnv(server, dir)), AWS_ACCESS_KEY_ID: owner[0], AWS_SECRET_ACCESS_KEY: owner[1] };
  const aws = (...args: string[]) => runCommand('aws', ['--endpoint-url', server.endpoint, ...args], { env, timeoutMs: TIMEOUT_MS });
  const source = bucketName('cli-logged');
  const target = `${source}-logs`;
  for (const bucket of [source, target]) t.equal((await aws('s3', 'mb', `s3://${bucket}`)).code, 0);
  const status = JSON.stringify({ LoggingEnabled: { TargetBucket: target, TargetPrefix: 'cli/' } });
  const put = await aws('s3api', 'put-bucket-logging', '--bucket', source, '--bucket-logging-status', status);
  t.equal(put.code, 0, commandOutput(put).stderr);
  const got = await aws('s3api', 'get-bucket-logging', '--bucket', source);
  t.same(JSON.parse(got.stdout), { LoggingEnabled: { TargetBucket: target, TargetPrefix: 'cli/' } });
  const file = join(dir, 'data.txt');
  await writeFile(file, 'logged');
  t.equal((await aws('s3', 'cp', file, `s3://${source}/data.txt`)).code, 0);
  const ls = await aws('s3', 'ls', `s3://${target}/cli/`);
  t.match(ls.stdout, /\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d-[0-9A-F]{16}/, 'a log object in S3 key format');
  const head = await aws('s3api', 'head-bucket', '--bucket', source, '--expected-bucket-owner', '111122223333');
  t.not(head.code, 0, 'another expected owner is refused');
  t.match(head.stderr, /403|Forbidden/);
});

t.test('Signature Version 2 in headers: boto3\'s legacy signer works as owner and other user; a stale or missing date is refused', async (t) => {
  const probe = await probeClient('python3', ['-c', 'import boto3; print("boto3", boto3.__version__)']);
  if (!requireClient(t, 'boto3', probe)) return;
  const dir = await mkdtemp(join(work, 'sigv2-'));
  const env = await isolatedAwsEnv(server, dir);
  const result = await runCommand('python3', [SIGV2_SCRIPT, '--endpoint', server.endpoint, '--bucket', bucketName('sigv2'), '--owner', ...owner, '--other', ...other], { env, timeoutMs: TIMEOUT_MS });
  t.equal(result.code, 0, 'every step matches', commandOutput(result));
  t.match(result.stdout, /^OK$/m);
  const signed = (date: string | undefined): Record<string, string> => {
    const stringToSign = `GET\n\n\n${date ?? ''}\n/`;
    const signature = createHmac('sha1', owner[1]).update(stringToSign).digest('base64');
    return { authorization: `AWS ${owner[0]}:${signature}`, ...(date === undefined ? {} : { date }) };
  };
  const now = await fetch(`${server.endpoint}/`, { headers: signed(new Date().toUTCString()) });
  t.equal(now.status, 200, 'ListBuckets signed with V2 by hand');
  await now.arrayBuffer();
  const stale = await fetch(`${server.endpoint}/`, { headers: signed(new Date(Date.now() - 20 * 60_000).toUTCString()) });
  t.equal(stale.status, 403);
  t.match(await stale.text(), /<Code>RequestTimeTooSkewed<\/Code>/, 'more than 15 minutes off');
  const undated = await fetch(`${server.endpoint}/`, { headers: signed(undefined) });
  t.equal(undated.status, 403);
  t.match(await undated.text(), /<Code>AccessDenied<\/Code>/, 'Date or x-amz-date is required');
});
