import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { t } from 'tap';
import { moduleArgs } from '../helpers/tree.js';

const v8Major = Number(process.versions.v8.split('.')[0]);

async function churn(args: string[]): Promise<{ full: number; young: number }> {
  const { stdout } = await promisify(execFile)(process.execPath, moduleArgs('test/common/fixtures/external-churn', ...args), { timeout: 60_000 });
  return JSON.parse(stdout) as { full: number; young: number };
}

// V8 13 (Node 24) starts a full collection each time memory outside the heap grows by a fixed step,
// however large the heap's own limit: 2 GiB of short-lived 1 MiB Buffers took 13 of them, and a server
// streaming 64 MiB GETs spent twice the CPU per MiB of Node 20 and 22 marking. The servers' heap setting
// makes that memory count against the heap's growing limit instead.
t.test('with the server heap setting, Buffers churning outside the heap start no run of full collections', { skip: v8Major < 13 ? `V8 ${process.versions.v8} does not collect on external memory alone; this runs on Node 24 and later` : false }, async (t) => {
  const untuned = await churn([]);
  t.comment(`without it: ${untuned.full} full collections`);
  const tuned = await churn(['--growth', '300']);
  t.ok(tuned.young > 0, `the churn ran the young generation's collector (${tuned.young} times)`);
  t.ok(tuned.full <= 3, `${tuned.full} full collections for 2 GiB of 1 MiB Buffers (at most 3)`);
});

