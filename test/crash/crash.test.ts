import { t } from 'tap';
import { CrashFleet } from './crash-fleet.js';
import { runCrashScenario } from './crash-scenario.js';

/**
 * Crash test with real processes: six `tessera node` children behind a `tessera gateway` child; every
 * 150-450 ms a random node is SIGKILLed and started again (at most two down or starting at once),
 * while objects are written, overwritten and read. 25 s of chaos in CI (about a minute in all);
 * `npx tsx test/crash/soak.ts --seconds 600` soaks longer, and `CRASH_SEED` fixes the
 * random choices (timing still varies).
 */
const chaosSeconds = Number(process.env['CRASH_SOAK_SECONDS'] ?? 25);
const seed = Number(process.env['CRASH_SEED'] ?? Date.now() % 1_000_000);

t.test('SIGKILLed nodes lose no acknowledged write, serve no mixed bytes and leave no temporary file', async (t) => {
  const fleet = await CrashFleet.create(6);
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
    minKills: 10,
    seed,
    log: (line) => t.comment(line),
  });
  t.comment(JSON.stringify({ ...report, violations: report.violations.length }));
  t.same(report.violations, [], `seed ${seed}: no invariant was broken`);
  // Restarts bound the kill rate (a node counts as down until it answers /health again; at most two are).
  t.ok(report.kills >= 10, `${report.kills} SIGKILLs, ${report.kills - report.killsDuringStartup} of serving nodes, ${report.killsDuringStartup} during start-up`);
  t.ok(report.writes.acked > 20, `${report.writes.acked} of ${report.writes.total} writes were acknowledged`);
  t.ok(report.reads.verified > 20, `${report.reads.verified} reads were checked byte for byte`);
  t.equal(report.finalKeysVerified, 24, 'every key read back as an allowed write');
  t.equal(report.leftoverTmpFiles, 0, 'no temporary file remains after the restart');
  t.ok(report.offline.shardsVerified > 0, `${report.offline.shardsVerified} committed shards passed a deep scrub`);
});
