import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { t } from 'tap';
import { runAdminCli } from '../../src/bin/admin-cli.js';
import { bucketName } from '../helpers/bytes.js';
import { commandOutput, isolatedAwsEnv, probeClient, requireClient, runCommand, type CommandResult } from '../helpers/clients.js';
import { startDevServer } from '../helpers/server.js';

/**
 * Bucket replication configurations against a real `tessera dev`, set with aws-cli's s3api as the
 * README shows: the destination is an s3 target the operator defined (`tessera admin target add
 * --type s3`), versioning must be Enabled first, and an unknown destination is refused as S3 does.
 */

const TIMEOUT_MS = 120_000;
const dev = await startDevServer(t);
const work = await mkdtemp(join(tmpdir(), 'tessera-replication-clients-'));
t.teardown(() => rm(work, { recursive: true, force: true }));

let out = '';
let err = '';
const added = await runAdminCli(
  ['target', 'add', 'site-b', '--type', 's3', '--endpoint', 'https://s3.site-b.example', '--bucket', 'replicas', '--access-key', 'AKIDSITEB', '--secret-key-env', 'SITE_B_SECRET', '--data', dev.dataDir],
  { SITE_B_SECRET: 'site-b-secret-key' },
  { stdout: (s) => void (out += s), stderr: (s) => void (err += s) },
);
if (added !== 0) throw new Error(`tessera admin target add exited ${added}: ${err}`);
const destination = out.trim();

for (const cli of [
  { name: 'aws-cli on PATH', command: 'aws' },
  { name: 'Debian aws-cli v2 (/usr/bin/aws)', command: '/usr/bin/aws' },
]) {
  t.test(`${cli.name}: s3api put-, get- and delete-bucket-replication`, async (t) => {
    const dir = await mkdtemp(join(work, 'cli-'));
    const env = await isolatedAwsEnv({ accessKeyId: dev.accessKeyId, secretAccessKey: dev.secretAccessKey }, dir);
    const probe = await probeClient(cli.command, ['--version'], env);
    if (!requireClient(t, cli.name, probe)) return;
    const aws = async (...args: string[]): Promise<CommandResult> =>
      runCommand(cli.command, ['--endpoint-url', dev.endpoint, '--region', dev.region, '--output', 'json', ...args], { env, timeoutMs: TIMEOUT_MS });
    const bucket = bucketName('clirepl');
    const created = await aws('s3api', 'create-bucket', '--bucket', bucket);
    t.equal(created.code, 0, 'create-bucket', commandOutput(created));
    const file = join(dir, 'replication.json');
    const configuration = {
      Role: 'arn:aws:iam::123456789012:role/replication',
      Rules: [
        { ID: 'models', Priority: 1, Status: 'Enabled', Filter: { Prefix: 'models/' }, DeleteMarkerReplication: { Status: 'Enabled' }, Destination: { Bucket: destination } },
      ],
    };
    await writeFile(file, JSON.stringify(configuration));
    const unversioned = await aws('s3api', 'put-bucket-replication', '--bucket', bucket, '--replication-configuration', `file://${file}`);
    t.not(unversioned.code, 0, 'refused before versioning is Enabled');
    t.match(unversioned.stderr, /InvalidRequest.*Versioning must be 'Enabled'/s);
    const versioned = await aws('s3api', 'put-bucket-versioning', '--bucket', bucket, '--versioning-configuration', 'Status=Enabled');
    t.equal(versioned.code, 0, 'put-bucket-versioning', commandOutput(versioned));
    const put = await aws('s3api', 'put-bucket-replication', '--bucket', bucket, '--replication-configuration', `file://${file}`);
    t.equal(put.code, 0, 'put-bucket-replication', commandOutput(put));
    const got = await aws('s3api', 'get-bucket-replication', '--bucket', bucket);
    t.equal(got.code, 0, 'get-bucket-replication', commandOutput(got));
    t.same(JSON.parse(got.stdout), { ReplicationConfiguration: configuration });
    await writeFile(file, JSON.stringify({ ...configuration, Rules: [{ ...configuration.Rules[0], Destination: { Bucket: 'arn:tessera:replication::nobody:replicas' } }] }));
    const refused = await aws('s3api', 'put-bucket-replication', '--bucket', bucket, '--replication-configuration', `file://${file}`);
    t.not(refused.code, 0);
    t.match(refused.stderr, /InvalidRequest.*Destination bucket must exist/s);
    const deleted = await aws('s3api', 'delete-bucket-replication', '--bucket', bucket);
    t.equal(deleted.code, 0, 'delete-bucket-replication', commandOutput(deleted));
    const gone = await aws('s3api', 'get-bucket-replication', '--bucket', bucket);
    t.not(gone.code, 0);
    t.match(gone.stderr, /ReplicationConfigurationNotFoundError/);
  });
}
