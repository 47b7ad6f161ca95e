import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { t } from 'tap';
import { bucketName } from '../helpers/bytes.js';
import { isolatedAwsEnv, probeClient, requireClient, resolveOnPath, runCommand, writeRandomFile } from '../helpers/clients.js';
import { startHttpAndHttpsDevServers } from '../helpers/server.js';
import { repoFile } from '../helpers/tree.js';

/**
 * boto3 against a started Tessera, for every Python with boto3 on this machine: `python3` on PATH (a
 * recent boto3 that sends the 2025 default checksums) and Debian's /usr/bin/python3 (boto3 1.26).
 * The steps live in boto3_roundtrip.py; it exits non-zero naming the first mismatch.
 *
 * Every step runs over HTTP and over HTTPS (boto3 trusting the test CA with verify=): recent botocore
 * sends PutObject and UploadPart bodies as aws-chunked with a trailing CRC32 only over HTTPS, so both
 * paths matter, and a run costs the interpreter start plus one 12 MiB object, not its small requests.
 */

const BIG_BYTES = 12 * 1024 * 1024 + 4321;
const SCRIPT = repoFile('test/clients/boto3_roundtrip.py');
const SCRIPT_TIMEOUT_MS = 120_000;

const INTERPRETERS = [
  { name: 'boto3 of python3 on PATH', command: 'python3' },
  { name: 'Debian boto3 (/usr/bin/python3)', command: '/usr/bin/python3' },
] as const;

const work = await mkdtemp(join(tmpdir(), 'tessera-boto3-'));
t.teardown(() => rm(work, { recursive: true, force: true }));
const targets = await startHttpAndHttpsDevServers(t);
const bigPath = join(work, 'big.bin');
const bigSha256 = await writeRandomFile(bigPath, BIG_BYTES);

for (const interpreter of INTERPRETERS) {
  for (const target of [targets.http, targets.https]) {
    t.test(
      `${interpreter.name} over ${target.scheme}: object with metadata, ranges, delimiter paging, copy_object, presigned GET/PUT with urllib, multipart upload_file/download_file, delete_objects`,
      async (t) => {
        const dir = await mkdtemp(join(work, 'run-'));
        const env = await isolatedAwsEnv(target.server, dir);
        const probe = await probeClient(
          interpreter.command,
          ['-c', 'import boto3, botocore, sys; print("boto3", boto3.__version__, "botocore", botocore.__version__, "python", sys.version.split()[0])'],
          env,
        );
        if (!requireClient(t, interpreter.name, probe)) return;
        if (interpreter.command === 'python3' && (await resolveOnPath('python3')) === (await resolveOnPath('python3', { PATH: '/usr/bin' }))) {
          t.pass('python3 on PATH is /usr/bin/python3, tested by the next case', { skip: 'same interpreter as /usr/bin/python3' });
          return;
        }
        const result = await runCommand(
          interpreter.command,
          [
            SCRIPT,
            '--endpoint', target.server.endpoint,
            '--bucket', bucketName('boto3'),
            '--big-file', bigPath,
            '--big-sha256', bigSha256,
            '--workdir', dir,
            ...(target.caFile === undefined ? [] : ['--ca-bundle', target.caFile]),
          ],
          { env, timeoutMs: SCRIPT_TIMEOUT_MS },
        );
        t.comment(result.stdout.trim());
        t.equal(result.code, 0, 'every step of the boto3 round trip matches', {
          failure: result.stderr.split('\n').filter((line) => line.startsWith('FAIL:')).join('\n'),
          stderr: result.stderr.slice(-4000),
          signal: result.signal,
        });
        t.match(result.stdout, /^OK$/m, 'the script reached its end');
        await rm(dir, { recursive: true, force: true });
      },
    );
  }
}
