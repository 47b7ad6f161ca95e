import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { t } from 'tap';
import { bucketName, md5Hex } from '../helpers/bytes.js';
import { commandOutput, environmentWithout, probeClient, requireClient, runCommand, sha256File, writeRandomFile, type CommandResult } from '../helpers/clients.js';
import { startHttpAndHttpsDevServers, type ClientTarget } from '../helpers/server.js';

/**
 * s3cmd (Debian's, SigV4 by default) against a started Tessera over HTTP and over HTTPS (trusting the test
 * CA with --ca-certs): mb, put of a small and a multipart file, ls, get, info, del, rb. Its configuration
 * is a file in a temp dir passed with -c, and HOME points there too, so the user's ~/.s3cfg is never read.
 * Both transports run the same commands: s3cmd is one cheap process per command.
 */

const MiB = 1024 * 1024;
const COMMAND_TIMEOUT_MS = 90_000;

const work = await mkdtemp(join(tmpdir(), 'tessera-s3cmd-'));
t.teardown(() => rm(work, { recursive: true, force: true }));
const targets = await startHttpAndHttpsDevServers(t);
const smallPath = join(work, 'small.bin');
const smallBody = randomBytes(40_000);
await writeFile(smallPath, smallBody);
// Above the 5 MiB chunk size set below: three parts.
const bigPath = join(work, 'big.bin');
const bigSha256 = await writeRandomFile(bigPath, 12 * MiB + 7);

async function configFile(target: ClientTarget, dir: string): Promise<string> {
  const hostPort = new URL(target.server.endpoint).host;
  const path = join(dir, 's3cfg');
  await writeFile(
    path,
    [
      '[default]',
      `access_key = ${target.server.accessKeyId}`,
      `secret_key = ${target.server.secretAccessKey}`,
      `host_base = ${hostPort}`,
      // No %(bucket)s in host_bucket: path-style requests.
      `host_bucket = ${hostPort}`,
      'bucket_location = us-east-1',
      `use_https = ${target.scheme === 'https' ? 'True' : 'False'}`,
      'check_ssl_certificate = True',
      'signature_v2 = False',
      'multipart_chunk_size_mb = 5',
      '',
    ].join('\n'),
  );
  return path;
}

for (const target of [targets.http, targets.https]) {
  t.test(`s3cmd over ${target.scheme}: mb, put small and 12 MiB multipart, ls with DIR prefixes, get byte-identical, info, del, rb`, async (t) => {
    const dir = await mkdtemp(join(work, 'run-'));
    const env: NodeJS.ProcessEnv = { ...environmentWithout(['AWS_', 'S3CMD_']), HOME: dir };
    const probe = await probeClient('s3cmd', ['--version'], env);
    if (!requireClient(t, 's3cmd', probe)) return;
    const config = await configFile(target, dir);
    const tlsArgs = target.caFile === undefined ? [] : ['--ca-certs', target.caFile];
    const s3cmd = (args: readonly string[]): Promise<CommandResult> =>
      runCommand('s3cmd', ['-c', config, '--no-progress', ...tlsArgs, ...args], { env, timeoutMs: COMMAND_TIMEOUT_MS });
    const bucket = bucketName('s3cmd');

    const mb = await s3cmd(['mb', `s3://${bucket}`]);
    t.equal(mb.code, 0, 's3cmd mb creates the bucket', commandOutput(mb));
    const putSmall = await s3cmd(['put', smallPath, `s3://${bucket}/dir/small.bin`]);
    t.equal(putSmall.code, 0, 's3cmd put uploads a small file', commandOutput(putSmall));
    const putBig = await s3cmd(['put', '--progress', bigPath, `s3://${bucket}/big.bin`]);
    t.equal(putBig.code, 0, 's3cmd put uploads 12 MiB in 5 MiB parts', commandOutput(putBig));
    t.match(putBig.stdout, /part 3 of 3/, 'as a three-part multipart upload');

    const ls = await s3cmd(['ls', `s3://${bucket}/`]);
    t.equal(ls.code, 0, 's3cmd ls lists the bucket', commandOutput(ls));
    t.match(ls.stdout, new RegExp(`^\\s+DIR\\s+s3://${bucket}/dir/$`, 'm'), 'dir/ shows as a DIR (a common prefix)');
    t.match(ls.stdout, new RegExp(`\\s${12 * MiB + 7}\\s+s3://${bucket}/big\\.bin$`, 'm'), 'big.bin shows with its size');
    const lsAll = await s3cmd(['ls', '--recursive', `s3://${bucket}`]);
    t.match(lsAll.stdout, new RegExp(`\\s${smallBody.length}\\s+s3://${bucket}/dir/small\\.bin$`, 'm'), 'ls --recursive shows dir/small.bin');
    const buckets = await s3cmd(['ls']);
    t.match(buckets.stdout, new RegExp(`s3://${bucket}$`, 'm'), 's3cmd ls lists the bucket among all buckets');

    const smallDown = join(dir, 'small.down');
    const getSmall = await s3cmd(['get', `s3://${bucket}/dir/small.bin`, smallDown]);
    t.equal(getSmall.code, 0, 's3cmd get downloads the small file', commandOutput(getSmall));
    t.ok((await readFile(smallDown).catch(() => Buffer.alloc(0))).equals(smallBody), 'byte-identical');
    const bigDown = join(dir, 'big.down');
    const getBig = await s3cmd(['get', `s3://${bucket}/big.bin`, bigDown]);
    t.equal(getBig.code, 0, 's3cmd get downloads the multipart file (and checks its MD5 metadata)', commandOutput(getBig));
    if (getBig.code === 0) t.equal(await sha256File(bigDown), bigSha256, 'with the uploaded SHA-256');

    const info = await s3cmd(['info', `s3://${bucket}/dir/small.bin`]);
    t.equal(info.code, 0, 's3cmd info reads the object head', commandOutput(info));
    t.match(info.stdout, new RegExp(`MD5 sum:\\s+${md5Hex(smallBody)}`), 'and reports its MD5');

    const del = await s3cmd(['del', `s3://${bucket}/dir/small.bin`]);
    t.equal(del.code, 0, 's3cmd del deletes an object', commandOutput(del));
    t.match(del.stdout, `delete: 's3://${bucket}/dir/small.bin'`, 'and says so');
    const delAll = await s3cmd(['del', '--recursive', '--force', `s3://${bucket}`]);
    t.equal(delAll.code, 0, 's3cmd del --recursive deletes the rest (one DeleteObjects request)', commandOutput(delAll));
    const empty = await s3cmd(['ls', '--recursive', `s3://${bucket}`]);
    t.equal(empty.stdout.trim(), '', 'nothing is left');
    const rb = await s3cmd(['rb', `s3://${bucket}`]);
    t.equal(rb.code, 0, 's3cmd rb removes the bucket', commandOutput(rb));
    await rm(dir, { recursive: true, force: true });
  });
}
