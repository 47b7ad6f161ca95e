import { t } from 'tap';
import { startCpuHogs } from '../helpers/cpu-hogs.js';
import { CrashFleet } from './crash-fleet.js';
import { runCrashScenario } from './crash-scenario.js';

/**
 * Crash test with real processes: six `tessera node` children behind a `tessera gateway` child; every
 * 150-450 ms a random node is SIGKILLed and started again (at most two down or starting at once),
 * while objects are written, overwritten and read. 10 s of chaos in CI (longer when the minimums of
 * kills and of writes with one node down below take it: a loaded machine restarts nodes slowly);
 * `npx tsx test/crash/soak.ts --seconds 600` soaks longer, and `CRASH_SEED` fixes the
 * random choices (timing still varies). The first half of the chaos kills one node at a time: a write
 * refused then is a failure, since 4+2 promises to take writes with a node down; with two down,
 * refusals are counted and reported. `CRASH_CPU_HOGS=2` runs it beside CPU-burning processes.
 */
const chaosSeconds = Number(process.env['CRASH_SOAK_SECONDS'] ?? 10);
const seed = Number(process.env['CRASH_SEED'] ?? Date.now() % 1_000_000);
const cpuHogs = Number(process.env['CRASH_CPU_HOGS'] ?? 0);

t.test('SIGKILLed nodes lose no acknowledged write, serve no mixed bytes and leave no temporary file', async (t) => {
  const fleet = await CrashFleet.create(6);
  t.teardown(startCpuHogs(cpuHogs));
  t.teardown(async () => {
    if (!t.passing()) t.comment(fleet.describe());
    await fleet.destroy();
  });
  const report = await runCrashScenario(fleet, {
    chaosMs: chaosSeconds * 1000,
    writers: 4,
    readers: 2,
    keys: 24,
    killEveryMs: [150, 450],
    maxDown: 2,
    singleFaultMs: (chaosSeconds * 1000) / 2,
    minSingleFaultWrites: 40,
    minKills: 10,
    seed,
    log: (line) => t.comment(line),
  });
  t.comment(JSON.stringify({ ...report, violations: report.violations.length }));
  t.same(report.violations, [], `seed ${seed}: no invariant was broken`);
  const { oneDown, twoDown, refusals } = report.availability;
  t.equal(oneDown.refused, 0, `with one node down ${oneDown.total - oneDown.refused} of ${oneDown.total} writes were acknowledged`);
  t.ok(oneDown.total > 10, `${oneDown.total} writes ran while exactly one node was down`);
  t.comment(`with two nodes down ${twoDown.refused} of ${twoDown.total} writes were refused${refusals.length > 0 ? `:\n${refusals.join('\n')}` : ''}`);
  // Restarts bound the kill rate (a node counts as down until it answers /health again; at most two are).
  t.ok(report.kills >= 10, `${report.kills} SIGKILLs, ${report.kills - report.killsDuringStartup} of serving nodes, ${report.killsDuringStartup} during start-up`);
  t.ok(report.writes.acked > 20, `${report.writes.acked} of ${report.writes.total} writes were acknowledged`);
  t.ok(report.reads.verified > 20, `${report.reads.verified} reads were checked byte for byte`);
  t.equal(report.finalKeysVerified, 24, 'every key read back as an allowed write');
  t.equal(report.leftoverTmpFiles, 0, 'no temporary file remains after a clean stop');
  t.ok(report.offline.shardsVerified > 0, `${report.offline.shardsVerified} committed shards passed a deep scrub`);
});
