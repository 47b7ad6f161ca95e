import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { t } from 'tap';
import { bucketName } from '../helpers/bytes.js';
import { commandOutput, isolatedAwsEnv, probeClient, requireClient, runCommand } from '../helpers/clients.js';
import { startCluster, TEST_CREDENTIALS } from '../helpers/cluster.js';
import { repoFile } from '../helpers/tree.js';

/**
 * Bucket versioning driven by the clients people use for it: boto3 (the client API, its
 * list_object_versions paginator and the resource API's object_versions collection) under every
 * Python with boto3 here, and aws-cli's s3api and s3 commands under every aws-cli here. The boto3
 * steps live in boto3_versioning.py, which exits non-zero naming the first mismatch.
 */

const SCRIPT = repoFile('test/clients/boto3_versioning.py');
const TIMEOUT_MS = 120_000;

const cluster = await startCluster({ nodeHealing: false, blockSizeBytes: 64 * 1024, gatewayOverrides: { metadataTimeoutMs: 10_000, stallTimeoutMs: 10_000 } });
t.teardown(() => cluster.close());
const work = await mkdtemp(join(tmpdir(), 'tessera-versioning-clients-'));
t.teardown(() => rm(work, { recursive: true, force: true }));

for (const python of [
  { name: 'boto3 of python3 on PATH', command: 'python3' },
  { name: 'Debian boto3 (/usr/bin/python3)', command: '/usr/bin/python3' },
]) {
  t.test(`${python.name}: versions by id, multipart versions, paginated version listing, markers (404/405), copy from a version, suspended null version, object_versions.delete()`, async (t) => {
    const env = await isolatedAwsEnv(TEST_CREDENTIALS, await mkdtemp(join(work, 'py-')));
    const probe = await probeClient(python.command, ['-c', 'import boto3; print("boto3", boto3.__version__)'], env);
    if (!requireClient(t, python.name, probe)) return;
    const result = await runCommand(python.command, [SCRIPT, '--endpoint', cluster.endpoint, '--bucket', bucketName('b3ver')], { env, timeoutMs: TIMEOUT_MS });
    t.equal(result.code, 0, 'the script passes every step', commandOutput(result));
    t.match(result.stdout, /^PASS$/m);
  });
}

for (const cli of [
  { name: 'aws-cli on PATH', command: 'aws' },
  { name: 'Debian aws-cli v2 (/usr/bin/aws)', command: '/usr/bin/aws' },
]) {
  t.test(`${cli.name}: put-bucket-versioning, versions of an overwritten key, s3 rm leaves a marker, get-object --version-id, delete-object --version-id`, async (t) => {
    const dir = await mkdtemp(join(work, 'cli-'));
    const env = await isolatedAwsEnv(TEST_CREDENTIALS, dir);
    const probe = await probeClient(cli.command, ['--version'], env);
    if (!requireClient(t, cli.name, probe)) return;
    const aws = async (...args: string[]): Promise<string> => {
      const result = await runCommand(cli.command, ['--endpoint-url', cluster.endpoint, ...args], { env, timeoutMs: TIMEOUT_MS });
      t.equal(result.code, 0, `aws ${args.slice(0, 2).join(' ')}`, commandOutput(result));
      return result.stdout;
    };
    const bucket = bucketName('cliver');
    await aws('s3api', 'create-bucket', '--bucket', bucket);
    await aws('s3api', 'put-bucket-versioning', '--bucket', bucket, '--versioning-configuration', 'Status=Enabled');
    t.equal(JSON.parse(await aws('s3api', 'get-bucket-versioning', '--bucket', bucket, '--output', 'json')).Status, 'Enabled');
    const file = join(dir, 'v.txt');
    const ids: string[] = [];
    for (const text of ['one', 'two']) {
      await writeFile(file, text);
      ids.push(JSON.parse(await aws('s3api', 'put-object', '--bucket', bucket, '--key', 'k.txt', '--body', file, '--output', 'json')).VersionId);
    }
    await aws('s3', 'rm', `s3://${bucket}/k.txt`);
    const listed = JSON.parse(await aws('s3api', 'list-object-versions', '--bucket', bucket, '--output', 'json'));
    t.same(listed.Versions.map((v: { VersionId: string; IsLatest: boolean }) => [v.VersionId, v.IsLatest]), [[ids[1], false], [ids[0], false]]);
    t.equal(listed.DeleteMarkers.length, 1);
    t.equal(listed.DeleteMarkers[0].IsLatest, true);
    const out = join(dir, 'out.txt');
    await aws('s3api', 'get-object', '--bucket', bucket, '--key', 'k.txt', '--version-id', ids[0] ?? '', out, '--output', 'json');
    t.equal(await readFile(out, 'utf8'), 'one', 'the first version by id');
    await aws('s3api', 'delete-object', '--bucket', bucket, '--key', 'k.txt', '--version-id', listed.DeleteMarkers[0].VersionId);
    await aws('s3', 'cp', `s3://${bucket}/k.txt`, out);
    t.equal(await readFile(out, 'utf8'), 'two', 'deleting the marker by id restores the newest version');
  });
}
