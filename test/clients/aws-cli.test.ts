import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, open, readFile, readdir, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { t, type Test } from 'tap';
import { bucketName, md5Hex } from '../helpers/bytes.js';
import {
  commandOutput,
  isolatedAwsEnv,
  plainRequest,
  probeClient,
  requireClient,
  resolveOnPath,
  runCommand,
  sha256File,
  writeRandomFile,
  type CommandResult,
} from '../helpers/clients.js';
import { startHttpAndHttpsDevServers, type ClientTarget } from '../helpers/server.js';

/**
 * aws-cli against a started Tessera, for every aws-cli this machine has: the one on PATH (a recent v1
 * whose botocore sends the 2025 default CRC checksums) and Debian's v2 at /usr/bin/aws. Each runs with
 * an isolated, empty configuration so nothing from the user's ~/.aws leaks in.
 *
 * Over HTTP every command is exercised. Over HTTPS (a test CA passed with --ca-bundle) a subset runs:
 * the uploads, downloads, ranged reads and presigned URLs, because that is where the transport changes
 * what is sent (recent botocore frames PutObject/UploadPart bodies as aws-chunked with a trailing CRC32
 * only over HTTPS); listing, sync and deletion send the same requests either way and are proven over HTTP.
 * The HTTPS subset runs with the aws on PATH: Debian's v2 (2.9, from before botocore's default checksums)
 * sends over TLS what it sends over HTTP, and TLS itself is the same urllib3 under both.
 */

const MiB = 1024 * 1024;
/** Above aws-cli's 8 MiB multipart threshold: three 8 MiB-or-less parts. */
const BIG_BYTES = 20 * MiB + 12_345;
const SMALL_BYTES = 64 * 1024 + 17;
const COMMAND_TIMEOUT_MS = 30_000;
const TRANSFER_TIMEOUT_MS = 90_000;

const CLIENTS = [
  { name: 'aws-cli on PATH', command: 'aws', overHttps: true },
  { name: 'Debian aws-cli v2 (/usr/bin/aws)', command: '/usr/bin/aws', overHttps: false },
] as const;

const work = await mkdtemp(join(tmpdir(), 'tessera-aws-cli-'));
t.teardown(() => rm(work, { recursive: true, force: true }));
const targets = await startHttpAndHttpsDevServers(t);
const bigPath = join(work, 'big.bin');
const bigSha256 = await writeRandomFile(bigPath, BIG_BYTES);
const smallPath = join(work, 'small.bin');
const smallBody = randomBytes(SMALL_BYTES);
await writeFile(smallPath, smallBody);

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

/** Every file under `dir` as relative path -> content. */
async function tree(dir: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    out.set(relative(dir, path), await readFile(path));
  }
  return out;
}

/** True when `aws` on PATH is Debian's /usr/bin/aws, which the second case already covers. */
async function pathAwsIsDebian(): Promise<boolean> {
  const onPath = await resolveOnPath('aws');
  const debian = await realpath('/usr/bin/aws').catch(() => undefined);
  return onPath !== undefined && onPath === debian;
}

for (const client of CLIENTS) {
  // One probe per client, not per session: each run of aws costs a Python start.
  const probe = probeClient(client.command, ['--version'], await isolatedAwsEnv(targets.http.server, await mkdtemp(join(work, 'probe-'))));
  // When the aws on PATH is Debian's, its case is skipped and Debian's runs the HTTPS subset instead.
  const overHttps = client.overHttps || (await pathAwsIsDebian());
  for (const target of overHttps ? [targets.http, targets.https] : [targets.http]) {
    const full = target.scheme === 'http';
    const what = full
      ? 'mb, cp small and 20 MiB multipart both ways, head-object, ranged get-object, ls, sync up/down with --delete, presign fetched with plain HTTP, rm --recursive, rb'
      : 'mb, cp small and 20 MiB multipart both ways (a CRC32 trailer on each upload from botocore >= 1.36), head-object, presign fetched over TLS, rm --recursive, rb';
    t.test(`${client.name} over ${target.scheme}: ${what}`, async (t) => {
      const dir = await mkdtemp(join(work, 'run-'));
      const env = await isolatedAwsEnv(target.server, dir);
      if (!requireClient(t, client.name, await probe)) return;
      if (client.command === 'aws' && (await pathAwsIsDebian())) {
        t.pass('the aws on PATH is /usr/bin/aws, tested by the next case', { skip: 'same binary as /usr/bin/aws' });
        return;
      }
      await cliSession(t, client.command, target, env, dir, full);
      await rm(dir, { recursive: true, force: true });
    });
  }
}

async function cliSession(t: Test, command: string, target: ClientTarget, env: NodeJS.ProcessEnv, dir: string, full: boolean): Promise<void> {
  const tlsArgs = target.caFile === undefined ? [] : ['--ca-bundle', target.caFile];
  const aws: Aws = (args, timeoutMs = COMMAND_TIMEOUT_MS) =>
    runCommand(command, [...args, '--endpoint-url', target.server.endpoint, ...tlsArgs], { env, timeoutMs });
  const bucket = bucketName('awscli');

  const mb = await aws(['s3', 'mb', `s3://${bucket}`]);
  t.equal(mb.code, 0, 's3 mb creates the bucket', commandOutput(mb));
  t.match(mb.stdout, `make_bucket: ${bucket}`, 's3 mb reports the bucket');

  const up = await aws(['s3', 'cp', '--no-progress', smallPath, `s3://${bucket}/dir/small.bin`]);
  t.equal(up.code, 0, 's3 cp uploads a small file', commandOutput(up));
  const smallDown = join(dir, 'small.down');
  const down = await aws(['s3', 'cp', '--no-progress', `s3://${bucket}/dir/small.bin`, smallDown]);
  t.equal(down.code, 0, 's3 cp downloads the small file', commandOutput(down));
  const smallBack = await readFile(smallDown).catch(() => Buffer.alloc(0));
  t.ok(smallBack.equals(smallBody), `small file round-trips byte-identical (${smallBack.length} of ${SMALL_BYTES} bytes)`);

  if (full) await smallObjectDetails(t, aws, bucket, dir);

  await t.test(`20 MiB file: s3 cp up (multipart, 8 MiB parts) and back down, byte-identical${full ? ', a range across a part boundary' : ''}`, async (t) => {
    const bigUp = await aws(['s3', 'cp', '--no-progress', bigPath, `s3://${bucket}/big.bin`], TRANSFER_TIMEOUT_MS);
    t.equal(bigUp.code, 0, 's3 cp uploads 20 MiB', commandOutput(bigUp));
    if (bigUp.code !== 0) return;
    const bigHead = await aws(['s3api', 'head-object', '--bucket', bucket, '--key', 'big.bin', '--output', 'json']);
    t.equal(bigHead.code, 0, 'head-object on the multipart object succeeds', commandOutput(bigHead));
    if (bigHead.code === 0) {
      const meta = JSON.parse(bigHead.stdout) as { ContentLength?: number; ETag?: string };
      t.equal(meta.ContentLength, BIG_BYTES, 'head-object reports the full size');
      t.match(meta.ETag ?? '', /^"[0-9a-f]{32}-3"$/, 'a multipart ETag: hex MD5 of the 3 part MD5s, dash, part count');
    }
    const bigDown = join(dir, 'big.down');
    const bigGet = await aws(['s3', 'cp', '--no-progress', `s3://${bucket}/big.bin`, bigDown], TRANSFER_TIMEOUT_MS);
    t.equal(bigGet.code, 0, 's3 cp downloads 20 MiB (ranged GETs in parallel)', commandOutput(bigGet));
    if (bigGet.code === 0) t.equal(await sha256File(bigDown), bigSha256, 'the download has the uploaded SHA-256');
    await rm(bigDown, { force: true });
    if (!full) return;
    const start = 8 * MiB - 500;
    const bigRangeOut = join(dir, 'big.range');
    const bigRange = await aws(['s3api', 'get-object', '--bucket', bucket, '--key', 'big.bin', '--range', `bytes=${start}-${start + 999}`, '--output', 'json', bigRangeOut]);
    t.equal(bigRange.code, 0, 'ranged get-object inside the multipart object succeeds', commandOutput(bigRange));
    if (bigRange.code === 0) {
      const meta = JSON.parse(bigRange.stdout) as { ContentRange?: string };
      t.equal(meta.ContentRange, `bytes ${start}-${start + 999}/${BIG_BYTES}`, 'Content-Range of a range crossing a part boundary');
      t.ok((await readFile(bigRangeOut)).equals(await fileSlice(bigPath, start, 1000)), 'the range holds the original bytes');
    }
  });

  await t.test('s3 presign: the URL works with a plain GET and nothing else; a tampered one is refused', async (t) => {
    const presign = await aws(['s3', 'presign', `s3://${bucket}/dir/small.bin`, '--expires-in', '600']);
    t.equal(presign.code, 0, 's3 presign prints a URL', commandOutput(presign));
    const url = presign.stdout.trim();
    // aws-cli v1 signs presigned URLs with SigV2 query parameters by default, v2 with SigV4: both are what users get.
    t.comment(`presigned URL form: ${/X-Amz-Algorithm=AWS4-HMAC-SHA256/.test(url) ? 'SigV4' : /AWSAccessKeyId=/.test(url) ? 'SigV2' : 'unknown'}`);
    t.ok(url.startsWith(`${target.server.endpoint}/${bucket}/dir/small.bin?`), `a path-style URL on the endpoint: ${url}`);
    const got = await plainRequest(url, target.ca === undefined ? {} : { ca: target.ca });
    t.equal(got.status, 200, 'a plain GET of the presigned URL answers 200', { body: got.body.toString('utf8', 0, 2000) });
    t.ok(got.body.equals(smallBody), 'and returns the object');
    const tampered = url.replace('dir/small.bin', 'dir/other.bin');
    const refused = await plainRequest(tampered, target.ca === undefined ? {} : { ca: target.ca });
    t.equal(refused.status, 403, 'the URL signed for one key does not open another');
    t.match(refused.body.toString(), /<Code>(SignatureDoesNotMatch|AccessDenied)<\/Code>/, 'with an S3 error document');
  });

  if (full) {
    await t.test('s3 ls: buckets, common prefixes, every key with --recursive', async (t) => {
      const ls = await aws(['s3', 'ls', `s3://${bucket}/`]);
      t.equal(ls.code, 0, 's3 ls lists the bucket', commandOutput(ls));
      t.match(ls.stdout, /^\s+PRE dir\/$/m, 's3 ls shows dir/ as a common prefix');
      t.match(ls.stdout, new RegExp(`\\s${BIG_BYTES} big\\.bin$`, 'm'), 's3 ls shows big.bin with its size');
      const lsRecursive = await aws(['s3', 'ls', '--recursive', `s3://${bucket}/`]);
      t.equal(lsRecursive.code, 0, 's3 ls --recursive lists every key', commandOutput(lsRecursive));
      t.match(lsRecursive.stdout, new RegExp(`\\s${SMALL_BYTES} dir/small\\.bin$`, 'm'), 's3 ls --recursive shows dir/small.bin with its size');
      const buckets = await aws(['s3', 'ls']);
      t.match(buckets.stdout, new RegExp(` ${bucket}$`, 'm'), 's3 ls lists the new bucket');
    });

    await t.test('s3 sync: uploads a tree, skips unchanged files, uploads changes and deletes with --delete, downloads it back', async (t) => {
      const src = join(dir, 'sync-src');
      await mkdir(join(src, 'nested', 'deeper'), { recursive: true });
      await writeFile(join(src, 'a.txt'), 'alpha\n');
      await writeFile(join(src, 'b.bin'), randomBytes(3000));
      await writeFile(join(src, 'space name+plus.txt'), 'odd key characters\n');
      await writeFile(join(src, 'nested', 'c.txt'), 'gamma\n');
      await writeFile(join(src, 'nested', 'deeper', 'd.bin'), randomBytes(70_000));
      const remote = `s3://${bucket}/synced/`;
      const first = await aws(['s3', 'sync', '--no-progress', src, remote]);
      t.equal(first.code, 0, 'sync uploads the tree', commandOutput(first));
      t.equal(first.stdout.match(/^upload: /gm)?.length, 5, 'five uploads', { stdout: first.stdout });
      const again = await aws(['s3', 'sync', '--no-progress', src, remote]);
      t.equal(again.code, 0, 'a second sync succeeds', commandOutput(again));
      t.equal(again.stdout.trim(), '', 'and uploads nothing: sizes and LastModified in the listing say every file is current');
      await writeFile(join(src, 'a.txt'), 'alpha, longer now\n');
      await rm(join(src, 'b.bin'));
      const changed = await aws(['s3', 'sync', '--no-progress', '--delete', src, remote]);
      t.equal(changed.code, 0, 'sync --delete after a change succeeds', commandOutput(changed));
      // aws-cli prints the local path relative to its working directory.
      t.match(changed.stdout, new RegExp(`^upload: \\S*sync-src/a\\.txt to ${remote}a\\.txt$`, 'm'), 'the changed file is uploaded');
      t.match(changed.stdout, `delete: ${remote}b.bin`, 'the removed file is deleted');
      t.equal(changed.stdout.match(/^(upload|delete): /gm)?.length, 2, 'nothing else is touched', { stdout: changed.stdout });
      const dest = join(dir, 'sync-dest');
      const back = await aws(['s3', 'sync', '--no-progress', remote, dest]);
      t.equal(back.code, 0, 'sync downloads the tree', commandOutput(back));
      const want = await tree(src);
      const have = await tree(dest);
      t.same([...have.keys()].sort(), [...want.keys()].sort(), 'the same files come back, nested paths and odd names included');
      for (const [path, body] of want) t.ok(have.get(path)?.equals(body), `${path} is byte-identical`);
    });

    const rbFull = await aws(['s3', 'rb', `s3://${bucket}`]);
    t.not(rbFull.code, 0, 's3 rb refuses a bucket that still holds objects');
    t.match(rbFull.stderr, 'BucketNotEmpty', 'the refusal is BucketNotEmpty');
    const rm1 = await aws(['s3', 'rm', `s3://${bucket}/dir/small.bin`]);
    t.equal(rm1.code, 0, 's3 rm deletes an object', commandOutput(rm1));
    t.match(rm1.stdout, `delete: s3://${bucket}/dir/small.bin`, 's3 rm reports the deletion');
  }

  const rmAll = await aws(['s3', 'rm', '--recursive', `s3://${bucket}/`]);
  t.equal(rmAll.code, 0, 's3 rm --recursive empties the bucket', commandOutput(rmAll));
  t.ok((rmAll.stdout.match(/^delete: /gm)?.length ?? 0) >= 1, 'and reports what it deleted', { stdout: rmAll.stdout });
  const gone = await aws(['s3api', 'head-object', '--bucket', bucket, '--key', 'big.bin']);
  t.not(gone.code, 0, 'head-object after rm --recursive fails');
  t.match(gone.stderr, /404|Not Found/, 'head-object after rm --recursive is a 404');
  if (full) {
    const left = await aws(['s3api', 'list-objects-v2', '--bucket', bucket, '--output', 'json']);
    t.equal(left.code, 0, 'list-objects-v2 on the emptied bucket succeeds', commandOutput(left));
    t.notMatch(left.stdout, /"Key"/, 'no key is left');
  }

  const rb = await aws(['s3', 'rb', `s3://${bucket}`]);
  t.equal(rb.code, 0, 's3 rb removes the empty bucket', commandOutput(rb));
  t.match(rb.stdout, `remove_bucket: ${bucket}`, 's3 rb reports the bucket');
  if (full) {
    const after = await aws(['s3', 'ls']);
    t.notMatch(after.stdout, new RegExp(` ${bucket}$`, 'm'), 'the bucket is gone from s3 ls');
  }
}

type Aws = (args: readonly string[], timeoutMs?: number) => Promise<CommandResult>;

/** s3api head-object and a ranged get-object of the small object. */
async function smallObjectDetails(t: Test, aws: Aws, bucket: string, dir: string): Promise<void> {
  const head = await aws(['s3api', 'head-object', '--bucket', bucket, '--key', 'dir/small.bin', '--output', 'json']);
  t.equal(head.code, 0, 's3api head-object succeeds', commandOutput(head));
  if (head.code === 0) {
    const meta = JSON.parse(head.stdout) as { ContentLength?: number; ETag?: string };
    t.equal(meta.ContentLength, SMALL_BYTES, 'head-object reports the size');
    t.equal(meta.ETag, `"${md5Hex(smallBody)}"`, 'head-object reports the MD5 ETag');
  }

  const rangeOut = join(dir, 'small.range');
  const ranged = await aws(['s3api', 'get-object', '--bucket', bucket, '--key', 'dir/small.bin', '--range', 'bytes=100-1123', '--output', 'json', rangeOut]);
  t.equal(ranged.code, 0, 's3api get-object --range succeeds', commandOutput(ranged));
  if (ranged.code === 0) {
    const meta = JSON.parse(ranged.stdout) as { ContentLength?: number; ContentRange?: string };
    t.equal(meta.ContentRange, `bytes 100-1123/${SMALL_BYTES}`, 'ranged get-object reports Content-Range');
    t.equal(meta.ContentLength, 1024, 'ranged get-object reports the range length');
    t.ok((await readFile(rangeOut)).equals(smallBody.subarray(100, 1124)), 'ranged get-object writes exactly the requested bytes');
  }
}
