/**
 * Runs the whole suite (`npm test` and the slow suites) several times in a row on a loaded machine: each run beside `--hogs` processes that
 * burn a core each, until one run fails. This is how the suite is shown not to flake (issue 18): a test
 * that waits a fixed time instead of for its condition fails here first.
 *
 *   npm run test:loaded                       # ten runs of `npm test` then `npm run test:slow`, one CPU hog beside each
 *   npm run test:loaded -- --runs 3 --hogs 2
 *   npm run test:loaded -- --runs 2 -- npx tap test/rpc/fan-out.test.ts   # another command
 *
 * Each run's output goes to test-artifacts/loaded-runs/run-N.log; a line per run and a summary are printed.
 * Exits 1 when a run failed (the rest are not started), 0 when all passed.
 */
import { spawn } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startCpuHogs } from './helpers/cpu-hogs.js';

const { values, positionals } = parseArgs({
  options: { runs: { type: 'string', default: '10' }, hogs: { type: 'string', default: '1' } },
  allowPositionals: true,
});
const runs = Number(values.runs);
const hogs = Number(values.hogs);
if (!Number.isInteger(runs) || runs < 1 || !Number.isInteger(hogs) || hogs < 0) {
  console.error('usage: loaded-runs [--runs N (>= 1)] [--hogs H (>= 0)] [-- command ...]');
  process.exit(2);
}
/** What one run is: the commands given, or the whole suite (the default set, then the slow suites). */
const commands: string[][] = positionals.length > 0 ? [positionals] : [['npm', 'test'], ['npm', 'run', 'test:slow']];
const logDir = join('test-artifacts', 'loaded-runs');
await mkdir(logDir, { recursive: true });

/** Runs one command with its output appended to `out`; resolves with its exit code. */
function runCommand([command, ...args]: string[], out: WriteStream): Promise<number> {
  const child = spawn(command as string, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CI: process.env.CI ?? 'true' } });
  child.stdout.pipe(out, { end: false });
  child.stderr.pipe(out, { end: false });
  return new Promise<number>((resolve) => child.once('close', (exit) => resolve(exit ?? 1)));
}

/** One run: each command in turn until one fails, all beside the hogs. */
async function run(n: number): Promise<{ code: number; seconds: number; summary: string }> {
  const log = join(logDir, `run-${n}.log`);
  const stopHogs = startCpuHogs(hogs);
  const startedMs = performance.now();
  try {
    const out = createWriteStream(log);
    let code = 0;
    for (const command of commands) {
      code = await runCommand(command, out);
      if (code !== 0) break;
    }
    await new Promise<void>((resolve) => out.end(resolve));
    const text = await readFile(log, 'utf8');
    // tap's summary line of each command, e.g. "# { total: 11879, pass: 11879 }".
    const summary = text.match(/^# \{ total.*$/gm)?.join(' ') ?? '(no tap summary)';
    return { code, seconds: (performance.now() - startedMs) / 1000, summary };
  } finally {
    stopHogs();
  }
}

const described = commands.map((command) => `\`${command.join(' ')}\``).join(' then ');
console.log(`${runs} run(s) of ${described}, each beside ${hogs} CPU-burning process(es); logs in ${logDir}/`);
let passed = 0;
for (let n = 1; n <= runs; n += 1) {
  const { code, seconds, summary } = await run(n);
  console.log(`run ${n}: exit ${code} in ${(seconds / 60).toFixed(1)} min ${summary}`);
  if (code !== 0) {
    console.log(`stopped: run ${n} failed (see ${join(logDir, `run-${n}.log`)}); ${passed} run(s) in a row passed before it`);
    process.exit(1);
  }
  passed += 1;
}
console.log(`all ${passed} run(s) passed in a row`);
