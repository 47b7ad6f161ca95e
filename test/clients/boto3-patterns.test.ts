import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { t } from 'tap';
import { bucketName } from '../helpers/bytes.js';
import { isolatedAwsEnv, probeClient, requireClient, resolveOnPath, runCommand } from '../helpers/clients.js';
import { startHttpAndHttpsDevServers } from '../helpers/server.js';
import { repoFile } from '../helpers/tree.js';

/**
 * The S3 call patterns of MLflow's artifact store, Hadoop s3a and fsspec/s3fs, reproduced with boto3 in
 * boto3_patterns.py (one bucket per pattern; see its docstring for the calls), against a started Tessera.
 *
 * Both interpreters run every pattern over HTTP. Over HTTPS only the recent boto3 on PATH runs them: it is
 * the one whose uploads change framing over TLS (aws-chunked with a trailing CRC32), while Debian's boto3
 * 1.26 sends the same unsigned bodies over HTTPS that the boto3 round trip already proves there.
 */

const SCRIPT = repoFile('test/clients/boto3_patterns.py');
const SCRIPT_TIMEOUT_MS = 150_000;
const PATTERNS = [
  { name: 'mlflow', what: 'MLflow artifact store: upload_file with ContentType, list_objects_v2 paginator with Prefix and Delimiter="/", download_file, delete_objects over a prefix' },
  { name: 's3a', what: 'Hadoop s3a: HEAD and LIST probes, directory markers, multipart writes, paged LIST with delimiter, rename as copy (UploadPartCopy) + quiet bulk delete' },
  { name: 'fsspec', what: 'fsspec/s3fs: MaxKeys=1 directory probes, If-Match on ranged reads (412 after a rewrite), If-None-Match: * exclusive create on PutObject and CompleteMultipartUpload' },
  { name: 'public', what: 'anonymous (UNSIGNED) clients on a public-read-write bucket: put_object, upload_file in parts, list and read back' },
] as const;

const RUNS = [
  { name: 'boto3 of python3 on PATH', command: 'python3', schemes: ['http', 'https'] },
  { name: 'Debian boto3 (/usr/bin/python3)', command: '/usr/bin/python3', schemes: ['http'] },
] as const;

const work = await mkdtemp(join(tmpdir(), 'tessera-patterns-'));
t.teardown(() => rm(work, { recursive: true, force: true }));
const targets = await startHttpAndHttpsDevServers(t);

for (const run of RUNS) {
  for (const scheme of run.schemes) {
    const target = targets[scheme];
    t.test(`${run.name} over ${scheme}: ${PATTERNS.map((p) => p.name).join(', ')} call patterns`, async (t) => {
      const dir = await mkdtemp(join(work, 'run-'));
      const env = await isolatedAwsEnv(target.server, dir);
      const probe = await probeClient(run.command, ['-c', 'import boto3; print("boto3", boto3.__version__)'], env);
      if (!requireClient(t, run.name, probe)) return;
      if (run.command === 'python3' && (await resolveOnPath('python3')) === (await resolveOnPath('python3', { PATH: '/usr/bin' }))) {
        t.pass('python3 on PATH is /usr/bin/python3, tested by the next case', { skip: 'same interpreter as /usr/bin/python3' });
        return;
      }
      const result = await runCommand(
        run.command,
        [SCRIPT, '--endpoint', target.server.endpoint, '--bucket-prefix', bucketName('pattern'), '--workdir', dir, ...(target.caFile === undefined ? [] : ['--ca-bundle', target.caFile])],
        { env, timeoutMs: SCRIPT_TIMEOUT_MS },
      );
      t.comment(result.stdout.trim());
      for (const pattern of PATTERNS) {
        const failure = new RegExp(`^FAIL ${pattern.name}: .*$`, 'm').exec(result.stdout)?.[0];
        t.match(result.stdout, new RegExp(`^PASS ${pattern.name}$`, 'm'), pattern.what, { failure, stderr: result.stderr.slice(-3000) });
      }
      t.equal(result.code, 0, 'the script exits 0', { stderr: result.stderr.slice(-3000), signal: result.signal });
      await rm(dir, { recursive: true, force: true });
    });
  }
}
