import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { t, type Test } from 'tap';
import { bucketName } from '../helpers/bytes.js';
import { commandOutput, isolatedAwsEnv, probeClient, requireClient, resolveOnPath, runCommand, sha256File, writeRandomFile, type CommandResult } from '../helpers/clients.js';
import { startHttpsDevServer } from '../helpers/server.js';

/**
 * aws-cli with server-side encryption against `tessera dev` over HTTPS (as S3 requires for SSE-C), for
 * every aws-cli this machine has: `s3 cp --sse AES256` and `--sse-c AES256 --sse-c-key fileb://...` of a
 * small file and a 9 MiB one (multipart, 8 MiB parts) both ways, head-object, a ranged get-object across
 * the part edge, a download without the key refused, and a copy from SSE-C to SSE-S3.
 */

const MiB = 1024 * 1024;
const BIG_BYTES = 9 * MiB + 777;
const TIMEOUT_MS = 90_000;
const CLIENTS = [
  { name: 'aws-cli on PATH', command: 'aws' },
  { name: 'Debian aws-cli v2 (/usr/bin/aws)', command: '/usr/bin/aws' },
] as const;

const work = await mkdtemp(join(tmpdir(), 'tessera-aws-cli-sse-'));
t.teardown(() => rm(work, { recursive: true, force: true }));
const target = await startHttpsDevServer(t);
const bigPath = join(work, 'big.bin');
const bigSha256 = await writeRandomFile(bigPath, BIG_BYTES);
const smallPath = join(work, 'small.bin');
const smallBody = randomBytes(1024);
await writeFile(smallPath, smallBody);
const keyPath = join(work, 'sse-c.key');
await writeFile(keyPath, randomBytes(32));
const sseC = ['--sse-c', 'AES256', '--sse-c-key', `fileb://${keyPath}`];

async function pathAwsIsDebian(): Promise<boolean> {
  const onPath = await resolveOnPath('aws');
  const debian = await realpath('/usr/bin/aws').catch(() => undefined);
  return onPath !== undefined && onPath === debian;
}

type Aws = (args: string[]) => Promise<CommandResult>;

for (const client of CLIENTS) {
  t.test(`${client.name} over https: cp --sse AES256 and --sse-c both ways (1 KiB and 9 MiB multipart), ranged get, copy SSE-C to SSE-S3`, async (t) => {
    const dir = await mkdtemp(join(work, 'run-'));
    const env = await isolatedAwsEnv(target.server, dir);
    const probe = await probeClient(client.command, ['--version'], env);
    if (!requireClient(t, client.name, probe)) return;
    if (client.command === 'aws' && (await pathAwsIsDebian())) {
      t.pass('the aws on PATH is /usr/bin/aws, tested by the next case', { skip: 'same binary as /usr/bin/aws' });
      return;
    }
    const aws: Aws = (args) => runCommand(client.command, [...args, '--endpoint-url', target.server.endpoint, '--ca-bundle', target.caFile ?? ''], { env, timeoutMs: TIMEOUT_MS });
    await session(t, aws, dir);
    await rm(dir, { recursive: true, force: true });
  });
}

async function session(t: Test, aws: Aws, dir: string): Promise<void> {
  const bucket = bucketName('awssse');
  t.equal((await aws(['s3', 'mb', `s3://${bucket}`])).code, 0, 's3 mb');
  for (const [kind, args] of [['SSE-S3', ['--sse', 'AES256']], ['SSE-C', sseC]] as const) {
    const small = await aws(['s3', 'cp', '--no-progress', ...args, smallPath, `s3://${bucket}/${kind}/small`]);
    t.equal(small.code, 0, `${kind}: cp up 1 KiB`, commandOutput(small));
    const big = await aws(['s3', 'cp', '--no-progress', ...args, bigPath, `s3://${bucket}/${kind}/big`]);
    t.equal(big.code, 0, `${kind}: cp up 9 MiB (multipart)`, commandOutput(big));
    const readArgs = kind === 'SSE-C' ? sseC : [];
    const smallDown = join(dir, `${kind}-small`);
    const down = await aws(['s3', 'cp', '--no-progress', ...readArgs, `s3://${bucket}/${kind}/small`, smallDown]);
    t.equal(down.code, 0, `${kind}: cp down 1 KiB`, commandOutput(down));
    t.ok((await readFile(smallDown).catch(() => Buffer.alloc(0))).equals(smallBody), `${kind}: 1 KiB byte-identical`);
    const bigDown = join(dir, `${kind}-big`);
    const bigGet = await aws(['s3', 'cp', '--no-progress', ...readArgs, `s3://${bucket}/${kind}/big`, bigDown]);
    t.equal(bigGet.code, 0, `${kind}: cp down 9 MiB`, commandOutput(bigGet));
    if (bigGet.code === 0) t.equal(await sha256File(bigDown), bigSha256, `${kind}: 9 MiB byte-identical`);
    const keyArgs = kind === 'SSE-C' ? ['--sse-customer-algorithm', 'AES256', '--sse-customer-key', `fileb://${keyPath}`] : [];
    const head = await aws(['s3api', 'head-object', '--bucket', bucket, '--key', `${kind}/big`, ...keyArgs, '--output', 'json']);
    t.equal(head.code, 0, `${kind}: head-object`, commandOutput(head));
    if (head.code === 0) {
      const meta = JSON.parse(head.stdout) as { ContentLength?: number; ETag?: string; ServerSideEncryption?: string; SSECustomerAlgorithm?: string };
      t.equal(meta.ContentLength, BIG_BYTES, `${kind}: the plaintext size`);
      t.match(meta.ETag ?? '', /-2"$/, `${kind}: two parts`);
      if (kind === 'SSE-S3') t.equal(meta.ServerSideEncryption, 'AES256');
      else t.equal(meta.SSECustomerAlgorithm, 'AES256');
    }
    const start = 8 * MiB - 100;
    const rangePath = join(dir, `${kind}-range`);
    const ranged = await aws(['s3api', 'get-object', '--bucket', bucket, '--key', `${kind}/big`, '--range', `bytes=${start}-${start + 199}`, ...keyArgs, rangePath]);
    t.equal(ranged.code, 0, `${kind}: ranged get-object across the part edge`, commandOutput(ranged));
    const expected = (await readFile(bigPath)).subarray(start, start + 200);
    t.ok((await readFile(rangePath).catch(() => Buffer.alloc(0))).equals(expected), `${kind}: the range's bytes`);
  }
  const noKey = await aws(['s3', 'cp', '--no-progress', `s3://${bucket}/SSE-C/small`, join(dir, 'no-key')]);
  t.not(noKey.code, 0, 'an SSE-C object does not download without its key');
  const copy = await aws(['s3', 'cp', '--no-progress', '--sse-c-copy-source', 'AES256', '--sse-c-copy-source-key', `fileb://${keyPath}`, '--sse', 'AES256', `s3://${bucket}/SSE-C/big`, `s3://${bucket}/copied`]);
  t.equal(copy.code, 0, 'cp from an SSE-C object to an SSE-S3 one', commandOutput(copy));
  const copied = join(dir, 'copied');
  const copiedGet = await aws(['s3', 'cp', '--no-progress', `s3://${bucket}/copied`, copied]);
  t.equal(copiedGet.code, 0, 'the copy downloads without a key', commandOutput(copiedGet));
  if (copiedGet.code === 0) t.equal(await sha256File(copied), bigSha256, 'the copy is byte-identical');
}
