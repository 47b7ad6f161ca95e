import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { t } from 'tap';
import { REPO_ROOT, tesseraArgs } from '../helpers/tree.js';
import { until } from '../helpers/until.js';

const dataDir = await mkdtemp(join(tmpdir(), 'tessera-dev-banner-'));
t.teardown(() => rm(dataDir, { recursive: true, force: true }));

// As a person starts it: no TESSERA_LOG_LEVEL. The second start is the one that used to warn: its nodes
// begin on the ring of the first, whose ports are gone, and their workers' first round comes before the banner.
const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => name !== 'TESSERA_LOG_LEVEL'));
for (const start of ['first', 'second']) {
  t.test(`a ${start} start of tessera dev prints the banner and no warning`, async (t) => {
    const child = spawn(process.execPath, tesseraArgs('dev', '--data', dataDir, '--listen', '127.0.0.1:0'), { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = once(child, 'exit');
    let printed = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (printed += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (printed += chunk));
    try {
      await until('the banner', async () => child.exitCode !== null || printed.includes('Press Ctrl-C to stop.'), 180_000, 50);
      t.equal(child.exitCode, null, 'still running');
      const lines = printed.split('\n').filter((line) => line.trim() !== '');
      t.same(lines.filter((line) => /"level":(40|50|60)|\bWARN\b|\bERROR\b/.test(line)), [], 'no warning or error');
      t.ok(lines.length <= 14, `about a dozen lines, got ${lines.length}:\n${lines.join('\n')}`);
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
  });
}
