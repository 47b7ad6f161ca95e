/**
 * The crash test as a long soak, outside tap: `npx tsx test/crash/soak.ts --seconds 600 [--seed N]`.
 * The first half kills one node at a time (`--single-fault-seconds` changes that). Prints the report
 * and exits 1 when any invariant broke, a refused write with at most one node down included. Every
 * process it started is killed on exit.
 */
import { parseArgs } from 'node:util';
import { CrashFleet } from './crash-fleet.js';
import { runCrashScenario } from './crash-scenario.js';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '600' }, seed: { type: 'string' }, writers: { type: 'string', default: '4' }, 'single-fault-seconds': { type: 'string' } } });
const seed = Number(values.seed ?? Date.now() % 1_000_000);
const fleet = await CrashFleet.create(6);
const stop = (): void => {
  void fleet.destroy().finally(() => process.exit(130));
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
let failed = true;
try {
  const report = await runCrashScenario(fleet, {
    chaosMs: Number(values.seconds) * 1000,
    writers: Number(values.writers),
    readers: 2,
    keys: 24,
    killEveryMs: [150, 450],
    maxDown: 2,
    singleFaultMs: Number(values['single-fault-seconds'] ?? Number(values.seconds) / 2) * 1000,
    seed,
    log: (line) => process.stdout.write(`${line}\n`),
  });
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  failed = report.violations.length > 0 || report.finalKeysVerified !== 24;
} catch (err) {
  process.stdout.write(`soak failed: ${(err as Error).stack ?? String(err)}\n${fleet.describe()}\n`);
} finally {
  await fleet.destroy();
}
process.exit(failed ? 1 : 0);
