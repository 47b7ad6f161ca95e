import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { t } from 'tap';
import { runAdminCli } from '../../src/bin/admin-cli.js';
import { bucketName } from '../helpers/bytes.js';
import { commandOutput, isolatedAwsEnv, probeClient, requireClient, runCommand, sha256File, writeRandomFile, type CommandResult } from '../helpers/clients.js';
import { startDevServer } from '../helpers/server.js';

/**
 * aws-cli with SSE-KMS against `tessera dev`: `s3 cp --sse aws:kms` with `--sse-kms-key-id` (a key
 * made with `tessera admin kms key create`) and without (the default key), a 9 MiB multipart upload
 * downloaded back, head-object showing the key ARN, a copy to SSE-S3, and an unknown key refused.
 */

const MiB = 1024 * 1024;
const TIMEOUT_MS = 90_000;
const work = await mkdtemp(join(tmpdir(), 'tessera-aws-cli-kms-'));
t.teardown(() => rm(work, { recursive: true, force: true }));
const server = await startDevServer(t);

t.test('aws-cli: cp --sse aws:kms with and without a key id, multipart, head-object, copy, unknown key', async (t) => {
  const env = await isolatedAwsEnv(server, work);
  const probe = await probeClient('aws', ['--version'], env);
  if (!requireClient(t, 'aws-cli', probe)) return;
  let err = '';
  const created = await runAdminCli(['kms', 'key', 'create', 'app', '--data', server.dataDir], {}, { stdout: () => undefined, stderr: (s) => void (err += s) });
  t.equal(created, 0, `kms key create: ${err}`);
  const aws = (args: string[]): Promise<CommandResult> => runCommand('aws', [...args, '--endpoint-url', server.endpoint], { env, timeoutMs: TIMEOUT_MS });
  const headOf = async (bucket: string, key: string): Promise<{ ServerSideEncryption?: string; SSEKMSKeyId?: string }> => {
    const head = await aws(['s3api', 'head-object', '--bucket', bucket, '--key', key, '--output', 'json']);
    t.equal(head.code, 0, `head-object ${key}`, commandOutput(head));
    return head.code === 0 ? (JSON.parse(head.stdout) as { ServerSideEncryption?: string; SSEKMSKeyId?: string }) : {};
  };
  const bucket = bucketName('awskms');
  t.equal((await aws(['s3', 'mb', `s3://${bucket}`])).code, 0, 's3 mb');
  const smallPath = join(work, 'small.bin');
  const smallBody = randomBytes(2048);
  await writeFile(smallPath, smallBody);
  const small = await aws(['s3', 'cp', '--no-progress', '--sse', 'aws:kms', '--sse-kms-key-id', 'app', smallPath, `s3://${bucket}/small`]);
  t.equal(small.code, 0, 'cp up with a key id', commandOutput(small));
  const arn = `arn:aws:kms:${server.region}:000000000000:key/app`;
  t.match(await headOf(bucket, 'small'), { ServerSideEncryption: 'aws:kms', SSEKMSKeyId: arn }, 'head-object shows the key ARN');
  const smallDown = join(work, 'small-down');
  t.equal((await aws(['s3', 'cp', '--no-progress', `s3://${bucket}/small`, smallDown])).code, 0, 'cp down');
  t.ok((await readFile(smallDown)).equals(smallBody), 'byte-identical');

  const bigPath = join(work, 'big.bin');
  const bigSha256 = await writeRandomFile(bigPath, 9 * MiB + 5);
  const big = await aws(['s3', 'cp', '--no-progress', '--sse', 'aws:kms', bigPath, `s3://${bucket}/big`]);
  t.equal(big.code, 0, 'cp up 9 MiB (multipart) without a key id', commandOutput(big));
  t.match(await headOf(bucket, 'big'), { ServerSideEncryption: 'aws:kms', SSEKMSKeyId: `arn:aws:kms:${server.region}:000000000000:key/aws/s3` }, 'the default key');
  const bigDown = join(work, 'big-down');
  const down = await aws(['s3', 'cp', '--no-progress', `s3://${bucket}/big`, bigDown]);
  t.equal(down.code, 0, 'cp down 9 MiB', commandOutput(down));
  if (down.code === 0) t.equal(await sha256File(bigDown), bigSha256, '9 MiB byte-identical');

  const copy = await aws(['s3', 'cp', '--no-progress', '--sse', 'AES256', `s3://${bucket}/small`, `s3://${bucket}/copied`]);
  t.equal(copy.code, 0, 'copy from SSE-KMS to SSE-S3', commandOutput(copy));
  t.match(await headOf(bucket, 'copied'), { ServerSideEncryption: 'AES256' });

  const missing = await aws(['s3', 'cp', '--no-progress', '--sse', 'aws:kms', '--sse-kms-key-id', 'nokey', smallPath, `s3://${bucket}/refused`]);
  t.not(missing.code, 0, 'an unknown key is refused');
  t.match(missing.stderr, /KMS\.NotFoundException/, 'with KMS.NotFoundException');
});
