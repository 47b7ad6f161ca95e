import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { t } from 'tap';
import { bucketName } from '../helpers/bytes.js';
import { isolatedAwsEnv, probeClient, requireClient, runCommand } from '../helpers/clients.js';
import { startHttpAndHttpsDevServers } from '../helpers/server.js';
import { repoFile } from '../helpers/tree.js';

/**
 * boto3 with server-side encryption against `tessera dev` (boto3_sse.py lists the calls): SSE-S3 and
 * SSE-C objects of 1 B to 8 MiB (multipart), ranges at package and part edges, key errors, and copies
 * between every pair of plain, SSE-S3 and SSE-C. Over HTTPS as S3 requires for SSE-C, and over HTTP,
 * which the embedded default allows for local use.
 */

const SCRIPT = repoFile('test/clients/boto3_sse.py');
const work = await mkdtemp(join(tmpdir(), 'tessera-boto3-sse-'));
t.teardown(() => rm(work, { recursive: true, force: true }));
const targets = await startHttpAndHttpsDevServers(t);

for (const scheme of ['https', 'http'] as const) {
  const target = targets[scheme];
  t.test(`boto3 over ${scheme}: SSE-S3 and SSE-C put, get, head, ranges, multipart and copies`, async (t) => {
    const dir = await mkdtemp(join(work, 'run-'));
    const env = await isolatedAwsEnv(target.server, dir);
    const probe = await probeClient('python3', ['-c', 'import boto3; print("boto3", boto3.__version__)'], env);
    if (!requireClient(t, 'boto3', probe)) return;
    const result = await runCommand(
      'python3',
      [SCRIPT, '--endpoint', target.server.endpoint, '--bucket', bucketName('sse'), '--workdir', dir, ...(target.caFile === undefined ? [] : ['--ca-bundle', target.caFile])],
      { env, timeoutMs: 240_000 },
    );
    t.comment(result.stdout.trim());
    t.match(result.stdout, /^PASS$/m, 'every step passed', { stderr: result.stderr.slice(-3000) });
    t.equal(result.code, 0, 'the script exits 0', { stderr: result.stderr.slice(-3000) });
  });
}
