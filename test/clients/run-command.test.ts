import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { t } from 'tap';
import { runCommand } from '../helpers/clients.js';

/**
 * The helper every client test runs aws-cli, boto3, rclone and s3cmd through: a client that crashes by a
 * signal of its own is run once more (and the crash kept), a second crash is returned as a failure, and
 * a client the helper itself killed for taking too long is not run again.
 */

const work = await mkdtemp(join(tmpdir(), 'tessera-run-command-'));
t.teardown(() => rm(work, { recursive: true, force: true }));

/** A shell command that appends a line to `runs` each time it starts, then does `body`. */
function counted(runs: string, body: string): string[] {
  return ['-c', `echo run >> '${runs}'; ${body}`];
}

async function runCount(runs: string): Promise<number> {
  return (await readFile(runs, 'utf8')).split('\n').filter(Boolean).length;
}

t.test('a client that crashes once is run again, and the crash is kept beside the rerun result', async (t) => {
  const runs = join(work, 'once');
  const marker = join(work, 'once.crashed');
  const result = await runCommand('sh', counted(runs, `if [ -e '${marker}' ]; then echo done; else touch '${marker}'; echo partial; kill -SEGV $$; fi`));
  t.equal(result.code, 0, 'the rerun exits 0');
  t.equal(result.signal, null);
  t.equal(result.stdout.trim(), 'done', 'the result is the rerun output');
  t.equal(result.crashedRun?.signal, 'SIGSEGV', 'the first run crash is recorded');
  t.equal(result.crashedRun?.stdout.trim(), 'partial');
  t.equal(await runCount(runs), 2);
});

t.test('a client that crashes twice is returned as crashed, after exactly two runs', async (t) => {
  const runs = join(work, 'twice');
  const result = await runCommand('sh', counted(runs, 'kill -ABRT $$'));
  t.equal(result.code, null);
  t.equal(result.signal, 'SIGABRT', 'the second crash is the result, which a caller asserting exit 0 fails on');
  t.equal(result.crashedRun?.signal, 'SIGABRT');
  t.equal(await runCount(runs), 2);
});

t.test('a client killed for running past its timeout is not run again', async (t) => {
  const runs = join(work, 'timeout');
  const result = await runCommand('sh', counted(runs, 'exec sleep 30'), { timeoutMs: 300 });
  t.equal(result.signal, 'SIGKILL');
  t.match(result.stderr, /killed after 300 ms/);
  t.equal(result.crashedRun, undefined);
  t.equal(await runCount(runs), 1);
});

t.test('a client that exits non-zero on its own is not run again', async (t) => {
  const runs = join(work, 'exit');
  const result = await runCommand('sh', counted(runs, 'exit 3'));
  t.equal(result.code, 3);
  t.equal(result.crashedRun, undefined);
  t.equal(await runCount(runs), 1);
});

t.test('Python clients run with faulthandler on, so a crash prints their stacks', async (t) => {
  const result = await runCommand('sh', ['-c', 'echo "$PYTHONFAULTHANDLER"']);
  t.equal(result.stdout.trim(), '1');
});
