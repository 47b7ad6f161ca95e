import { t } from 'tap';
import { listingKeyCount, MATRIX, parseBenchArgs } from '../../bench/lib/bench-args.js';
import { matrixMarkdown, readmeNumber, runFactsLine } from '../../bench/lib/markdown-table.js';
import { cpuMsPerRequest, matrixHeader, matrixLine, matrixRow, type Measured } from '../../bench/lib/result-table.js';
import type { CaseResult } from '../../bench/lib/run-case.js';

t.test('the RGW and listing flags parse in both forms, and the defaults run RGW and 100,000 listing keys', async (t) => {
  const defaults = parseBenchArgs([]);
  t.same([defaults.rgw, defaults.cephScripts, defaults.listing, listingKeyCount(defaults)], [true, undefined, true, 100_000]);
  t.equal(listingKeyCount(parseBenchArgs(['--quick'])), 10_000, '--quick lists a tenth');
  const spaced = parseBenchArgs(['--ceph-scripts', '/opt/peers/ceph', '--listing-keys', '1000000', '--no-rgw']);
  t.same([spaced.cephScripts, listingKeyCount(spaced), spaced.rgw], ['/opt/peers/ceph', 1_000_000, false]);
  const joined = parseBenchArgs(['--ceph-scripts=/opt/peers/ceph', '--listing-keys=2000', '--no-listing', '--rounds=3']);
  t.same([joined.cephScripts, joined.listingKeys, joined.listing, joined.rounds], ['/opt/peers/ceph', 2000, false, 3]);
  t.throws(() => parseBenchArgs(['--listing-keys', 'many']), /bad --listing-keys/);
  t.throws(() => parseBenchArgs(['--listing-keys=0']), /bad --listing-keys/);
});

/** A window of `okOps` requests over `wallMs` in which the server used `cores`. */
function window(okOps: number, wallMs: number, cores: number): Measured<CaseResult> {
  const seconds = wallMs / 1000;
  const result: CaseResult = { ops: okOps, okOps, errors: 0, firstError: undefined, wallMs, mibPerSec: (okOps * 4) / 1024 / seconds, opsPerSec: okOps / seconds, p50Ms: 5, p99Ms: 9 };
  const cpu = { targetCores: cores, clientCores: 0.5, otherCores: 0, machineCores: cores + 0.5, targetWriteBytes: 0 };
  return { value: result, cpu, firstTry: undefined };
}

t.test('server CPU per request is the cores used over the window divided among its requests', async (t) => {
  t.equal(cpuMsPerRequest(window(1000, 2000, 0.5)), 1, '0.5 cores for 2 s over 1,000 requests: 1 ms each');
  t.ok(Number.isNaN(cpuMsPerRequest(window(0, 2000, 0.5))), 'no request: no figure');
});

t.test("the README's table shows RGW beside s3rver, tessera's ratio to each and the CPU per request, or why RGW is absent", async (t) => {
  const workload = MATRIX[0];
  if (workload === undefined) throw new Error('no workload');
  const rounds = { tessera: [window(2000, 2000, 1)], null: [window(2000, 200, 1)], s3rver: [window(2000, 4000, 0.5)], rgw: [window(2000, 1000, 1.5)] };
  const withRgw = matrixMarkdown([matrixRow('put', workload, 2000, rounds)], {});
  t.equal(withRgw[0], '| workload | Tessera | null server | s3rver | Ceph RGW | Tessera / s3rver | Tessera / RGW | CPU ms/req Tessera | CPU ms/req s3rver | CPU ms/req RGW | target |');
  t.equal(withRgw[2], '| PUT 4 KiB × 2,000, 16 clients | 1,000 ops/s | 10,000 ops/s | 500 ops/s | 2,000 ops/s | 2.00 | 0.50 | 1.00 | 1.00 | 0.75 | ≥ 900: met |');
  const { rgw: _left, ...withoutRgw } = rounds;
  const absent = matrixMarkdown([matrixRow('put', workload, 2000, withoutRgw)], { rgw: 'not installed' });
  t.equal(absent[2], '| PUT 4 KiB × 2,000, 16 clients | 1,000 ops/s | 10,000 ops/s | 500 ops/s | not installed | 2.00 | - | 1.00 | 1.00 | - | ≥ 900: met |');
  t.match(matrixHeader({ rgw: 'not installed' }), /Ceph RGW: not installed/, 'the console table says it too');
  t.match(matrixLine(matrixRow('put', workload, 2000, rounds), 100), /0\.50\s+\| >= 900 PASS/, 'and its ratio to RGW last');
});

t.test('the line above the tables carries the command, the date and the commit', async (t) => {
  const line = runFactsLine({ command: 'npm run bench -- --rounds=3', startedAt: new Date('2026-11-27T21:04:05Z'), commit: 'abc1234', node: 'v20.20.2', cpu: '2 × AMD EPYC' });
  t.equal(line, '`npm run bench -- --rounds=3`, 2026-11-27 21:04 UTC, code of abc1234; Node v20.20.2, 2 × AMD EPYC.');
  t.equal(readmeNumber(9667.4), '9,667');
  t.equal(readmeNumber(1.214), '1.21');
});
