import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { t } from 'tap';
import { bucketName } from '../helpers/bytes.js';
import { commandOutput, environmentWithout, probeClient, requireClient, runCommand, writeRandomFile, type CommandResult } from '../helpers/clients.js';
import { startHttpAndHttpsDevServers } from '../helpers/server.js';

/**
 * rclone against a started Tessera over HTTP and over HTTPS (trusting the test CA with --ca-cert): copy a
 * tree with a multipart file into a bucket, then `rclone check --download`, which reads every object back
 * and compares bytes, not just the ETags rclone itself computed. The remote is defined by RCLONE_CONFIG_*
 * variables and --config names an empty file in a temp dir, so the user's rclone.conf is never read.
 * Both transports run the same commands: rclone is one cheap process per command.
 */

const MiB = 1024 * 1024;
const COMMAND_TIMEOUT_MS = 90_000;

const work = await mkdtemp(join(tmpdir(), 'tessera-rclone-'));
t.teardown(() => rm(work, { recursive: true, force: true }));
const targets = await startHttpAndHttpsDevServers(t);
const src = join(work, 'src');
await mkdir(join(src, 'nested', 'deeper'), { recursive: true });
// Above the 5 MiB upload cutoff set below: three multipart chunks.
await writeRandomFile(join(src, 'big.bin'), 12 * MiB + 99);
await writeFile(join(src, 'small.txt'), 'small\n');
await writeFile(join(src, 'empty.txt'), '');
await writeFile(join(src, 'name with spaces & plus+.txt'), randomBytes(1000));
await writeFile(join(src, 'nested', 'a.bin'), randomBytes(70_000));
await writeFile(join(src, 'nested', 'deeper', 'b.txt'), 'deep\n');
const emptyConfig = join(work, 'rclone.conf');
await writeFile(emptyConfig, '');

for (const target of [targets.http, targets.https]) {
  t.test(`rclone over ${target.scheme}: mkdir, copy with a multipart file, check --download finds every byte equal and a changed object unequal, purge`, async (t) => {
    const env: NodeJS.ProcessEnv = {
      // rclone's AWS SDK reads AWS_* (AWS_CA_BUNDLE among them) even with env_auth off.
      ...environmentWithout(['AWS_', 'RCLONE_']),
      RCLONE_CONFIG_TESSERA_TYPE: 's3',
      RCLONE_CONFIG_TESSERA_PROVIDER: 'Other',
      RCLONE_CONFIG_TESSERA_ENV_AUTH: 'false',
      RCLONE_CONFIG_TESSERA_ACCESS_KEY_ID: target.server.accessKeyId,
      RCLONE_CONFIG_TESSERA_SECRET_ACCESS_KEY: target.server.secretAccessKey,
      RCLONE_CONFIG_TESSERA_ENDPOINT: target.server.endpoint,
      RCLONE_CONFIG_TESSERA_REGION: 'us-east-1',
      RCLONE_CONFIG_TESSERA_FORCE_PATH_STYLE: 'true',
    };
    const probe = await probeClient('rclone', ['version'], env);
    if (!requireClient(t, 'rclone', probe)) return;
    const common = ['--config', emptyConfig, '--low-level-retries', '1', '--retries', '1', ...(target.caFile === undefined ? [] : ['--ca-cert', target.caFile])];
    const rclone = (args: readonly string[]): Promise<CommandResult> => runCommand('rclone', [...args, ...common], { env, timeoutMs: COMMAND_TIMEOUT_MS });
    const bucket = bucketName('rclone');
    const remote = `tessera:${bucket}/tree`;

    const mkdirResult = await rclone(['mkdir', `tessera:${bucket}`]);
    t.equal(mkdirResult.code, 0, 'rclone mkdir creates the bucket', commandOutput(mkdirResult));
    const copy = await rclone(['copy', src, remote, '--s3-upload-cutoff', '5M', '--s3-chunk-size', '5M', '--transfers', '4']);
    t.equal(copy.code, 0, 'rclone copy uploads the tree', commandOutput(copy));
    const listing = await rclone(['lsf', '-R', '--files-only', remote]);
    t.equal(listing.code, 0, 'rclone lsf lists it', commandOutput(listing));
    t.same(
      listing.stdout.trim().split('\n').sort(),
      ['big.bin', 'empty.txt', 'name with spaces & plus+.txt', 'nested/a.bin', 'nested/deeper/b.txt', 'small.txt'],
      'every file is there under its name',
    );
    const check = await rclone(['check', src, remote, '--download', '--one-way']);
    t.equal(check.code, 0, 'rclone check --download reads every object back and finds it equal', commandOutput(check));
    t.match(check.stderr, /0 differences found/, 'and reports no difference');

    // A check that passes must be able to fail: change one object behind the local copy's back.
    const changed = join(work, `changed-${target.scheme}.txt`);
    await writeFile(changed, 'SMALL\n');
    const overwrite = await rclone(['copyto', changed, `${remote}/small.txt`]);
    t.equal(overwrite.code, 0, 'rclone copyto overwrites one object', commandOutput(overwrite));
    const recheck = await rclone(['check', src, remote, '--download', '--one-way']);
    t.equal(recheck.code, 1, 'rclone check --download now fails', commandOutput(recheck));
    t.match(recheck.stderr, /1 differences found/, 'naming exactly one difference');

    const purge = await rclone(['purge', `tessera:${bucket}`]);
    t.equal(purge.code, 0, 'rclone purge deletes every object and the bucket', commandOutput(purge));
    const gone = await rclone(['lsd', 'tessera:']);
    t.equal(gone.code, 0, 'rclone lsd lists the buckets', commandOutput(gone));
    t.notMatch(gone.stdout, new RegExp(` ${bucket}$`, 'm'), 'the bucket is gone');
  });
}
