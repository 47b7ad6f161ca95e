import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { t } from 'tap';
import { bucketName } from '../helpers/bytes.js';
import { probeClient, requireClient, resolveOnPath, runCommand, writeRandomFile } from '../helpers/clients.js';
import { startDevServer } from '../helpers/server.js';

/**
 * boto3 against a started `tessera dev`, for every Python with boto3 on this machine: `python3` on PATH
 * (a recent boto3 that sends the 2025 default checksums) and Debian's /usr/bin/python3 (boto3 1.26).
 * The steps live in boto3_roundtrip.py; it exits non-zero naming the first mismatch.
 */

const BIG_BYTES = 100 * 1024 * 1024;
const SCRIPT = fileURLToPath(new URL('boto3_roundtrip.py', import.meta.url));
const SCRIPT_TIMEOUT_MS = 200_000;

const INTERPRETERS = [
  { name: 'boto3 of python3 on PATH', command: 'python3' },
  { name: 'Debian boto3 (/usr/bin/python3)', command: '/usr/bin/python3' },
] as const;

const work = await mkdtemp(join(tmpdir(), 'tessera-boto3-'));
t.teardown(() => rm(work, { recursive: true, force: true }));
const server = await startDevServer(t);
const configFile = join(work, 'aws-config');
const credentialsFile = join(work, 'aws-credentials');
await writeFile(configFile, '');
await writeFile(credentialsFile, '');
const bigPath = join(work, 'big.bin');
const bigSha256 = await writeRandomFile(bigPath, BIG_BYTES);

function pythonEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) if (!name.startsWith('AWS_')) env[name] = value;
  return {
    ...env,
    AWS_ACCESS_KEY_ID: server.accessKeyId,
    AWS_SECRET_ACCESS_KEY: server.secretAccessKey,
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_CONFIG_FILE: configFile,
    AWS_SHARED_CREDENTIALS_FILE: credentialsFile,
    AWS_EC2_METADATA_DISABLED: 'true',
    PYTHONUNBUFFERED: '1',
  };
}

for (const interpreter of INTERPRETERS) {
  t.test(`${interpreter.name}: bucket, object with metadata, ranges, delimiter paging, 100 MiB upload_file/download_file, delete_objects`, async (t) => {
    const probe = await probeClient(
      interpreter.command,
      ['-c', 'import boto3, botocore, sys; print("boto3", boto3.__version__, "botocore", botocore.__version__, "python", sys.version.split()[0])'],
      pythonEnv(),
    );
    if (!requireClient(t, interpreter.name, probe)) return;
    if (interpreter.command === 'python3' && (await resolveOnPath('python3')) === (await resolveOnPath('python3', { PATH: '/usr/bin' }))) {
      t.pass('python3 on PATH is /usr/bin/python3, tested by the next case', { skip: 'same interpreter as /usr/bin/python3' });
      return;
    }
    const dir = await mkdtemp(join(work, 'run-'));
    const result = await runCommand(
      interpreter.command,
      [SCRIPT, '--endpoint', server.endpoint, '--bucket', bucketName('boto3'), '--big-file', bigPath, '--big-sha256', bigSha256, '--workdir', dir],
      { env: pythonEnv(), timeoutMs: SCRIPT_TIMEOUT_MS },
    );
    t.comment(result.stdout.trim());
    t.equal(result.code, 0, 'every step of the boto3 round trip matches', {
      failure: result.stderr.split('\n').filter((line) => line.startsWith('FAIL:')).join('\n'),
      stderr: result.stderr.slice(-4000),
      signal: result.signal,
    });
    t.match(result.stdout, /^OK$/m, 'the script reached its end');
    await rm(dir, { recursive: true, force: true });
  });
}
