import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { t } from 'tap';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { runAdminCli } from '../../src/bin/admin-cli.js';
import { localS3Client } from '../helpers/cluster.js';
import { bucketName } from '../helpers/bytes.js';
import { isolatedAwsEnv, probeClient, requireClient, runCommand } from '../helpers/clients.js';
import { startDevServer } from '../helpers/server.js';
import { repoFile } from '../helpers/tree.js';

/**
 * boto3 with SSE-KMS against `tessera dev` (boto3_sse_kms.py lists the calls): keys made with
 * `tessera admin kms key`, names, aliases and ARNs, the default key, the encryption context, Bucket
 * Keys, multipart, copies between every pair of SSE-C, SSE-S3 and SSE-KMS, and the KMS errors.
 */

const SCRIPT = repoFile('test/clients/boto3_sse_kms.py');
const work = await mkdtemp(join(tmpdir(), 'tessera-boto3-kms-'));
t.teardown(() => rm(work, { recursive: true, force: true }));
const server = await startDevServer(t);

async function kms(...args: string[]): Promise<void> {
  let err = '';
  const code = await runAdminCli(['kms', 'key', ...args, '--data', server.dataDir], {}, { stdout: () => undefined, stderr: (s) => void (err += s) });
  if (code !== 0) throw new Error(`tessera admin kms key ${args.join(' ')} exited ${code}: ${err}`);
}

t.test('boto3: SSE-KMS put, get, head, context, bucket key, multipart, copies and errors', async (t) => {
  const env = await isolatedAwsEnv(server, work);
  const probe = await probeClient('python3', ['-c', 'import boto3; print("boto3", boto3.__version__)'], env);
  if (!requireClient(t, 'boto3', probe)) return;
  await kms('create', 'app');
  await kms('create', 'off');
  await kms('disable', 'off');
  // The gateway follows key changes within seconds: the script starts once it refuses the disabled key.
  const client = localS3Client(server.endpoint, server, { maxAttempts: 1 });
  t.teardown(() => client.destroy());
  const bucket = bucketName('kms');
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  const deadline = Date.now() + 20_000;
  let refused = '';
  while (refused !== 'KMS.DisabledException' && Date.now() < deadline) {
    refused = await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'probe', Body: 'x', ServerSideEncryption: 'aws:kms', SSEKMSKeyId: 'off' })).then(
      () => 'stored',
      (err: { name: string }) => err.name,
    );
    if (refused !== 'KMS.DisabledException') await new Promise((resolve) => setTimeout(resolve, 50));
  }
  t.equal(refused, 'KMS.DisabledException', 'the gateway sees the disabled key');
  const result = await runCommand(
    'python3',
    [SCRIPT, '--endpoint', server.endpoint, '--bucket', bucket, '--workdir', work, '--region', server.region],
    { env, timeoutMs: 240_000 },
  );
  t.comment(result.stdout.trim());
  t.match(result.stdout, /^PASS$/m, 'every step passed', { stderr: result.stderr.slice(-3000) });
  t.equal(result.code, 0, 'the script exits 0', { stderr: result.stderr.slice(-3000) });
});
