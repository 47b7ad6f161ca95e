import { randomBytes } from 'node:crypto';
import { mkdtemp, open, readFile, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { t } from 'tap';
import { bucketName, md5Hex } from '../helpers/bytes.js';
import { probeClient, requireClient, resolveOnPath, runCommand, sha256File, writeRandomFile, type CommandResult } from '../helpers/clients.js';
import { startDevServer } from '../helpers/server.js';

/**
 * aws-cli against a started `tessera dev`, for every aws-cli this machine has: the one on PATH (a
 * recent v1 whose botocore sends the 2025 default CRC checksums) and Debian's v2 at /usr/bin/aws.
 * Each runs with an isolated, empty configuration so nothing from the user's ~/.aws leaks in.
 */

const MiB = 1024 * 1024;
const BIG_BYTES = 100 * MiB;
const SMALL_BYTES = 64 * 1024 + 17;
const COMMAND_TIMEOUT_MS = 30_000;
const TRANSFER_TIMEOUT_MS = 150_000;

const CLIENTS = [
  { name: 'aws-cli on PATH', command: 'aws' },
  { name: 'Debian aws-cli v2 (/usr/bin/aws)', command: '/usr/bin/aws' },
] as const;

const work = await mkdtemp(join(tmpdir(), 'tessera-aws-cli-'));
t.teardown(() => rm(work, { recursive: true, force: true }));
const server = await startDevServer(t);
const configFile = join(work, 'aws-config');
const credentialsFile = join(work, 'aws-credentials');
await writeFile(configFile, '');
await writeFile(credentialsFile, '');
const bigPath = join(work, 'big.bin');
const bigSha256 = await writeRandomFile(bigPath, BIG_BYTES);
const smallPath = join(work, 'small.bin');
const smallBody = randomBytes(SMALL_BYTES);
await writeFile(smallPath, smallBody);

/** The process environment minus every AWS_* setting, plus the test's credentials and empty config files. */
function cliEnv(): NodeJS.ProcessEnv {
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
    AWS_PAGER: '',
  };
}

async function fileSlice(path: string, start: number, length: number): Promise<Buffer> {
  const handle = await open(path, 'r');
  try {
    const out = Buffer.alloc(length);
    const { bytesRead } = await handle.read(out, 0, length, start);
    return out.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/** Diagnostics tap prints when an exit-code assertion fails. */
function output(result: CommandResult): { stdout: string; stderr: string; signal: string | null } {
  return { stdout: result.stdout.slice(-4000), stderr: result.stderr.slice(-4000), signal: result.signal };
}

for (const client of CLIENTS) {
  t.test(`${client.name}: mb, cp small and 100 MiB both ways, ls, head-object, ranged get-object, rm, rb`, async (t) => {
    const probe = await probeClient(client.command, ['--version'], cliEnv());
    if (!requireClient(t, client.name, probe)) return;
    if (client.command === 'aws') {
      const onPath = await resolveOnPath('aws');
      const debian = await realpath('/usr/bin/aws').catch(() => undefined);
      if (onPath !== undefined && onPath === debian) {
        t.pass('the aws on PATH is /usr/bin/aws, tested by the next case', { skip: 'same binary as /usr/bin/aws' });
        return;
      }
    }
    const env = cliEnv();
    const aws = (args: readonly string[], timeoutMs = COMMAND_TIMEOUT_MS): Promise<CommandResult> =>
      runCommand(client.command, [...args, '--endpoint-url', server.endpoint], { env, timeoutMs });
    const dir = await mkdtemp(join(work, 'run-'));
    const bucket = bucketName('awscli');

    const mb = await aws(['s3', 'mb', `s3://${bucket}`]);
    t.equal(mb.code, 0, 's3 mb creates the bucket', output(mb));
    t.match(mb.stdout, `make_bucket: ${bucket}`, 's3 mb reports the bucket');

    const up = await aws(['s3', 'cp', '--no-progress', smallPath, `s3://${bucket}/dir/small.bin`]);
    t.equal(up.code, 0, 's3 cp uploads a small file', output(up));
    const smallDown = join(dir, 'small.down');
    const down = await aws(['s3', 'cp', '--no-progress', `s3://${bucket}/dir/small.bin`, smallDown]);
    t.equal(down.code, 0, 's3 cp downloads the small file', output(down));
    const smallBack = await readFile(smallDown).catch(() => Buffer.alloc(0));
    t.ok(smallBack.equals(smallBody), `small file round-trips byte-identical (${smallBack.length} of ${SMALL_BYTES} bytes)`);

    const head = await aws(['s3api', 'head-object', '--bucket', bucket, '--key', 'dir/small.bin', '--output', 'json']);
    t.equal(head.code, 0, 's3api head-object succeeds', output(head));
    if (head.code === 0) {
      const meta = JSON.parse(head.stdout) as { ContentLength?: number; ETag?: string };
      t.equal(meta.ContentLength, SMALL_BYTES, 'head-object reports the size');
      t.equal(meta.ETag, `"${md5Hex(smallBody)}"`, 'head-object reports the MD5 ETag');
    }

    const rangeOut = join(dir, 'small.range');
    const ranged = await aws(['s3api', 'get-object', '--bucket', bucket, '--key', 'dir/small.bin', '--range', 'bytes=100-1123', '--output', 'json', rangeOut]);
    t.equal(ranged.code, 0, 's3api get-object --range succeeds', output(ranged));
    if (ranged.code === 0) {
      const meta = JSON.parse(ranged.stdout) as { ContentLength?: number; ContentRange?: string };
      t.equal(meta.ContentRange, `bytes 100-1123/${SMALL_BYTES}`, 'ranged get-object reports Content-Range');
      t.equal(meta.ContentLength, 1024, 'ranged get-object reports the range length');
      t.ok((await readFile(rangeOut)).equals(smallBody.subarray(100, 1124)), 'ranged get-object writes exactly the requested bytes');
    }

    await t.test('100 MiB file: s3 cp up (multipart) and back down, byte-identical', async (t) => {
      const bigUp = await aws(['s3', 'cp', '--no-progress', bigPath, `s3://${bucket}/big.bin`], TRANSFER_TIMEOUT_MS);
      t.equal(bigUp.code, 0, 's3 cp uploads 100 MiB', output(bigUp));
      if (bigUp.code !== 0) return;
      const bigDown = join(dir, 'big.down');
      const bigGet = await aws(['s3', 'cp', '--no-progress', `s3://${bucket}/big.bin`, bigDown], TRANSFER_TIMEOUT_MS);
      t.equal(bigGet.code, 0, 's3 cp downloads 100 MiB', output(bigGet));
      if (bigGet.code === 0) t.equal(await sha256File(bigDown), bigSha256, 'downloaded 100 MiB has the uploaded SHA-256');
      await rm(bigDown, { force: true });
      const bigHead = await aws(['s3api', 'head-object', '--bucket', bucket, '--key', 'big.bin', '--output', 'json']);
      t.equal(bigHead.code, 0, 'head-object on the multipart object succeeds', output(bigHead));
      if (bigHead.code === 0) {
        const meta = JSON.parse(bigHead.stdout) as { ContentLength?: number; ETag?: string };
        t.equal(meta.ContentLength, BIG_BYTES, 'head-object reports 100 MiB');
        t.match(meta.ETag ?? '', /^"[0-9a-f]{32}-\d+"$/, 'a multipart ETag: hex MD5 of part MD5s, dash, part count');
      }
      const start = 50 * MiB - 500;
      const bigRangeOut = join(dir, 'big.range');
      const bigRange = await aws(['s3api', 'get-object', '--bucket', bucket, '--key', 'big.bin', '--range', `bytes=${start}-${start + 999}`, '--output', 'json', bigRangeOut]);
      t.equal(bigRange.code, 0, 'ranged get-object inside the multipart object succeeds', output(bigRange));
      if (bigRange.code === 0) {
        const meta = JSON.parse(bigRange.stdout) as { ContentRange?: string };
        t.equal(meta.ContentRange, `bytes ${start}-${start + 999}/${BIG_BYTES}`, 'Content-Range of a range crossing a part boundary');
        t.ok((await readFile(bigRangeOut)).equals(await fileSlice(bigPath, start, 1000)), 'the range holds the original bytes');
      }
    });

    const ls = await aws(['s3', 'ls', `s3://${bucket}/`]);
    t.equal(ls.code, 0, 's3 ls lists the bucket', output(ls));
    t.match(ls.stdout, /^\s+PRE dir\/$/m, 's3 ls shows dir/ as a common prefix');
    const lsRecursive = await aws(['s3', 'ls', '--recursive', `s3://${bucket}/`]);
    t.equal(lsRecursive.code, 0, 's3 ls --recursive lists every key', output(lsRecursive));
    t.match(lsRecursive.stdout, new RegExp(`\\s${SMALL_BYTES} dir/small\\.bin$`, 'm'), 's3 ls --recursive shows dir/small.bin with its size');
    const buckets = await aws(['s3', 'ls']);
    t.match(buckets.stdout, new RegExp(` ${bucket}$`, 'm'), 's3 ls lists the new bucket');

    const rbFull = await aws(['s3', 'rb', `s3://${bucket}`]);
    t.not(rbFull.code, 0, 's3 rb refuses a bucket that still holds objects');
    t.match(rbFull.stderr, 'BucketNotEmpty', 'the refusal is BucketNotEmpty');

    const rm1 = await aws(['s3', 'rm', `s3://${bucket}/dir/small.bin`]);
    t.equal(rm1.code, 0, 's3 rm deletes an object', output(rm1));
    t.match(rm1.stdout, `delete: s3://${bucket}/dir/small.bin`, 's3 rm reports the deletion');
    const rmAll = await aws(['s3', 'rm', '--recursive', `s3://${bucket}/`]);
    t.equal(rmAll.code, 0, 's3 rm --recursive empties the bucket', output(rmAll));
    const gone = await aws(['s3api', 'head-object', '--bucket', bucket, '--key', 'dir/small.bin']);
    t.not(gone.code, 0, 'head-object after rm fails');
    t.match(gone.stderr, /404|Not Found/, 'head-object after rm is a 404');

    const rb = await aws(['s3', 'rb', `s3://${bucket}`]);
    t.equal(rb.code, 0, 's3 rb removes the empty bucket', output(rb));
    t.match(rb.stdout, `remove_bucket: ${bucket}`, 's3 rb reports the bucket');
    const after = await aws(['s3', 'ls']);
    t.notMatch(after.stdout, new RegExp(` ${bucket}$`, 'm'), 'the bucket is gone from s3 ls');
    await rm(dir, { recursive: true, force: true });
  });
}
