import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { access, realpath, writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { basename, dirname, join, relative } from 'node:path';

/**
 * Running third-party S3 clients (aws-cli, boto3, rclone, s3cmd, ...) as child processes, and the rule
 * for when one is missing: under CI (CI=true) that is a failure, elsewhere the test is skipped with the
 * reason.
 */

/** The slice of a tap test `requireClient` needs. */
export interface ClientTest {
  fail(message: string): void;
  pass(message: string, extra: { skip: string }): void;
  comment(...message: unknown[]): void;
}

/** What a probe found out about a client. */
export type ClientProbe = { available: true; version: string } | { available: false; reason: string };

/** The result of running a client command. */
export interface CommandResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** A first run that the client itself crashed (ended by a signal this helper did not send); this result is the rerun's. */
  crashedRun?: { signal: NodeJS.Signals; stdout: string; stderr: string };
}

/**
 * Runs `command args`, collecting its output; never throws for a non-zero exit.
 *
 * A client that dies by a signal nobody sent it (SIGSEGV, SIGABRT, ...) is run once more, and the crash
 * is kept in `crashedRun` and written to stderr. Debian's aws-cli v2 (Python 3.11.2) has been seen to
 * die by SIGSEGV after printing that its download had finished: a crash of the client on its way out,
 * not an answer of the server's. A second crash is returned as it is, and fails the caller's assertion.
 * Python clients run with faulthandler on, so such a crash prints every thread's stack.
 */
export async function runCommand(command: string, args: readonly string[], options: RunOptions = {}): Promise<CommandResult> {
  const first = await runOnce(command, args, options);
  const { signal, stdout, stderr } = first.result;
  if (signal === null || first.timedOut) return first.result;
  process.stderr.write(`${command} ${args.join(' ')}: the client crashed (${signal}); running it once more\n${stderr.slice(-4000)}\n`);
  const second = await runOnce(command, args, options);
  return { ...second.result, crashedRun: { signal, stdout, stderr } };
}

/** How `runCommand` runs a command: its environment (default: this process's), time limit and folder. */
export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
  cwd?: string;
}

async function runOnce(command: string, args: readonly string[], options: RunOptions): Promise<{ result: CommandResult; timedOut: boolean }> {
  const child = spawn(command, args, {
    env: { PYTHONFAULTHANDLER: '1', ...(options.env ?? process.env) },
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
  });
  let stdout = '';
  let stderr = '';
  let timedOut = false;
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const timer = setTimeout(() => {
    timedOut = true;
    stderr += `\n[killed after ${options.timeoutMs} ms]`;
    child.kill('SIGKILL');
  }, options.timeoutMs ?? 120_000);
  try {
    const [code, signal] = (await Promise.race([
      once(child, 'close'),
      once(child, 'error').then(([err]) => {
        throw err;
      }),
    ])) as [number | null, NodeJS.Signals | null];
    return { result: { code, signal, stdout, stderr }, timedOut };
  } finally {
    clearTimeout(timer);
  }
}

/** Runs a command that prints its version; a missing binary or a failing run means unavailable. */
export async function probeClient(command: string, args: readonly string[], env?: NodeJS.ProcessEnv): Promise<ClientProbe> {
  try {
    const result = await runCommand(command, args, { timeoutMs: 30_000, ...(env === undefined ? {} : { env }) });
    if (result.code !== 0) {
      return { available: false, reason: `\`${command} ${args.join(' ')}\` exited ${String(result.code)}: ${(result.stderr || result.stdout).trim().split('\n').slice(-3).join(' | ')}` };
    }
    return { available: true, version: (result.stdout.trim() || result.stderr.trim()).split('\n')[0] ?? '' };
  } catch (err) {
    return { available: false, reason: `cannot run ${command}: ${err instanceof Error ? err.message : String(err)}` };
  }
}

/** Whether this run is under CI, where a missing client must fail the suite. */
export function underCi(env: NodeJS.ProcessEnv = process.env): boolean {
  const value = env['CI'];
  return value !== undefined && value !== '' && value !== 'false' && value !== '0';
}

/**
 * The one rule for a missing client: returns true when it is available; otherwise fails the test under
 * CI (CI=true) or skips it with the reason elsewhere, and returns false so the caller returns early.
 */
export function requireClient(t: ClientTest, name: string, probe: ClientProbe): probe is { available: true; version: string } {
  if (probe.available) {
    t.comment(`${name}: ${probe.version}`);
    return true;
  }
  const message = `${name} is not available (${probe.reason})`;
  if (underCi()) t.fail(`${message}; CI must install it`);
  else t.pass(name, { skip: `${message}; skipped outside CI` });
  return false;
}

/** Resolves a command name through PATH to its real file, or undefined when PATH has none. */
export async function resolveOnPath(command: string, env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  for (const dir of (env['PATH'] ?? '').split(':')) {
    if (dir === '') continue;
    try {
      return await realpath(`${dir}/${command}`);
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

/** Writes `sizeBytes` of random bytes to `path` in 1 MiB writes and returns their SHA-256 (hex). */
export async function writeRandomFile(path: string, sizeBytes: number): Promise<string> {
  const hash = createHash('sha256');
  const out = createWriteStream(path);
  const chunkBytes = 1024 * 1024;
  for (let written = 0; written < sizeBytes; written += chunkBytes) {
    const chunk = randomBytes(Math.min(chunkBytes, sizeBytes - written));
    hash.update(chunk);
    if (!out.write(chunk)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  return hash.digest('hex');
}

/** SHA-256 (hex) of a file, streamed. */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** The answer to a plain HTTP request: no SDK, no signing. */
export interface PlainResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/**
 * One HTTP(S) request with node:http or node:https and nothing else, the way a browser or curl uses a
 * presigned URL. `ca` (PEM) is the only certificate trusted for https:// URLs when given.
 */
export async function plainRequest(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: Uint8Array; ca?: string; timeoutMs?: number } = {},
): Promise<PlainResponse> {
  const target = new URL(url);
  const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
  const headers = { ...options.headers, ...(options.body === undefined ? {} : { 'content-length': String(options.body.length) }) };
  return new Promise((resolve, reject) => {
    const req = send(
      target,
      { method: options.method ?? 'GET', headers, agent: false, ...(options.ca === undefined ? {} : { ca: options.ca }), timeout: options.timeoutMs ?? 30_000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${options.method ?? 'GET'} ${url}: no answer within ${options.timeoutMs ?? 30_000} ms`)));
    req.on('error', reject);
    req.end(options.body);
  });
}

/**
 * This process's environment minus every variable whose name starts with one of `prefixes`: settings
 * such as AWS_CA_BUNDLE or RCLONE_* on the machine must not reach a client under test.
 */
export function environmentWithout(prefixes: readonly string[]): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) if (!prefixes.some((prefix) => name.startsWith(prefix))) env[name] = value;
  return env;
}

/** Credentials a client is given. */
export interface ClientCredentials {
  accessKeyId: string;
  secretAccessKey: string;
}

/**
 * `env`'s PATH with the bin folders of the Pythons pyenv selects put just ahead of pyenv's shims, as
 * `pyenv exec` does for each command it runs: the same aws and python3 run, without the bash and pyenv
 * start (about 0.3 s) a shim costs on every call. PATH without pyenv shims comes back as it is.
 */
export async function pathPastPyenvShims(env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  const path = env['PATH'];
  if (path === undefined) return undefined;
  const dirs = path.split(':');
  for (const [index, dir] of dirs.entries()) {
    if (basename(dir) !== 'shims') continue;
    const root = dirname(dir);
    const pyenv = join(root, 'libexec', 'pyenv');
    if (!(await access(pyenv).then(() => true, () => false))) continue;
    const prefix = await runCommand(pyenv, ['prefix'], { env, timeoutMs: 30_000 }).catch(() => undefined);
    if (prefix?.code !== 0) return path;
    // Only the versions pyenv installed: for the system Python, pyenv exec leaves PATH alone too.
    const bins = prefix.stdout.trim().split(':').filter((p) => p !== '' && !relative(root, p).startsWith('..')).map((p) => join(p, 'bin'));
    return [...dirs.slice(0, index), ...bins, ...dirs.slice(index)].join(':');
  }
  return path;
}

/**
 * An environment for aws-cli and boto3 that sees nothing of the user's AWS setup: every AWS_* variable
 * removed, then the given credentials, region us-east-1, and config/credentials files that are empty
 * (created in `dir`). No instance-metadata lookups, no pager; PATH past pyenv's shims (pathPastPyenvShims).
 */
export async function isolatedAwsEnv(credentials: ClientCredentials, dir: string, extra: NodeJS.ProcessEnv = {}): Promise<NodeJS.ProcessEnv> {
  const configFile = join(dir, 'aws-config');
  const credentialsFile = join(dir, 'aws-credentials');
  await writeFile(configFile, '');
  await writeFile(credentialsFile, '');
  const path = await pathPastPyenvShims();
  return {
    ...environmentWithout(['AWS_']),
    ...(path === undefined ? {} : { PATH: path }),
    AWS_ACCESS_KEY_ID: credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_CONFIG_FILE: configFile,
    AWS_SHARED_CREDENTIALS_FILE: credentialsFile,
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_PAGER: '',
    PYTHONUNBUFFERED: '1',
    ...extra,
  };
}

/** Diagnostics for a failed command assertion: the tails of its output and how it ended. */
export function commandOutput(result: CommandResult): { code: number | null; signal: string | null; stdout: string; stderr: string; crashedRun?: CommandResult['crashedRun'] } {
  const output = { code: result.code, signal: result.signal, stdout: result.stdout.slice(-4000), stderr: result.stderr.slice(-4000) };
  return result.crashedRun === undefined ? output : { ...output, crashedRun: result.crashedRun };
}
