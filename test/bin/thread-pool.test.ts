import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { t } from 'tap';
import { DEFAULTS } from '../../src/common/index.js';

interface ThreadPoolModule {
  DEV_NODE_COUNT: number;
  hostedNodes(argv: readonly string[]): number;
  threadPoolSize(argv: readonly string[], env: NodeJS.ProcessEnv): number | undefined;
}
const pool = ((await import('../../src/bin/thread-pool.cjs')) as { default: ThreadPoolModule }).default;
const ENTRY = fileURLToPath(new URL('../../src/bin/tessera.cts', import.meta.url));

t.test('a process that hosts storage nodes gets four more pool threads per node; the others keep libuv’s four', async (t) => {
  t.equal(pool.DEV_NODE_COUNT, DEFAULTS.devNodeCount, 'the entry point counts the nodes `tessera dev` starts by default');
  t.equal(pool.threadPoolSize(['dev'], {}), 4 + 4 * DEFAULTS.devNodeCount, 'tessera dev: its default nodes');
  t.equal(pool.threadPoolSize(['dev', '--nodes', '3', '--data', 'x'], {}), 16, 'tessera dev --nodes 3');
  t.equal(pool.threadPoolSize(['dev', '--nodes=9'], {}), 40, 'tessera dev --nodes=9');
  t.equal(pool.threadPoolSize(['node', '--config', 'node.json'], {}), 8, 'tessera node: one node');
  t.equal(pool.threadPoolSize(['gateway', '--workers', 'auto'], {}), undefined, 'a gateway hosts no node');
  t.equal(pool.threadPoolSize(['admin', 'status'], {}), undefined, 'nor does a command-line tool');
  t.equal(pool.threadPoolSize(['dev', '--nodes', 'many'], {}), undefined, 'a malformed count is left for the program to refuse');
  t.equal(pool.threadPoolSize(['dev'], { UV_THREADPOOL_SIZE: '2' }), undefined, 'an operator’s UV_THREADPOOL_SIZE is kept');
});

t.test('the CommonJS entry point loads and runs the program', async (t) => {
  // The program prints its usage for `help`; the child reports the pool size it was given.
  const child = spawn(process.execPath, ['--import', 'tsx', ENTRY, 'help'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, UV_THREADPOOL_SIZE: undefined } });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  t.equal(code, 0, 'tessera help exits 0 through the entry point');
  t.match(out, /usage: tessera <command>/, 'and prints the program’s usage');
});
