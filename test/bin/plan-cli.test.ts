import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { t } from 'tap';
import { runPlanCli } from '../../src/bin/plan-cli.js';
import { buildRing, serializeRing } from '../../src/placement/index.js';

const dir = await mkdtemp(join(tmpdir(), 'tessera-plan-cli-'));
t.teardown(() => rm(dir, { recursive: true, force: true }));

async function plan(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runPlanCli(args, { stdout: (s) => void (out += s), stderr: (s) => void (err += s) });
  return { code, out, err };
}

const COMMON = ['--afr', '1.5', '--disk-size', '16'];

t.test('one layout prints the model and one row per repair rate, faster repair giving more nines', async (t) => {
  const { code, out } = await plan('durability', '--ec', '4+2', '--nodes', '6', '--zones', '1', ...COMMON, '--repair-rate', '50,500', '--json');
  t.equal(code, 0);
  const { rows } = JSON.parse(out) as { rows: { repairMBps: number; estimate: { nines: number } }[] };
  t.equal(rows.length, 2);
  t.ok(rows[1]!.estimate.nines > rows[0]!.estimate.nines + 1.5, 'ten times the repair rate gains about m nines');
  const text = await plan('durability', '--ec', '4+2', '--nodes', '6', ...COMMON, '--repair-rate', '50');
  t.match(text.out, /docs\/durability\.md/);
  t.match(text.out, /\| 4\+2 +\| 6 +\| 1 +\|/);
  t.match(text.out, /all data \(1 zone\)/);
});

t.test('comma lists compare every combination side by side and skip the ones that cannot exist', async (t) => {
  const { code, out } = await plan('durability', '--ec', '4+2,8+4,3x', '--nodes', '6,60,600', '--zones', '1,3', ...COMMON, '--repair-rate', '50,500');
  t.equal(code, 0);
  const rows = out.split('\n').filter((line) => /^\| (4\+2|8\+4|3x) /.test(line));
  t.equal(rows.length, 3 * 3 * 2 * 2 - 4, 'every combination but 8+4 on 6 nodes');
  t.match(out, /skipped: 6 nodes cannot hold 8\+4: it needs 12/);
  t.match(out, /8\+4 +\| 60 +\| 3 .*survives/);
});

t.test('a ring file gives the nodes, zones and partition sets', async (t) => {
  const nodes = Array.from({ length: 12 }, (_, i) => ({ id: `n${i}`, address: `10.0.0.${i + 1}:9100`, zone: `z${i % 3}`, weight: 1 }));
  const path = join(dir, 'ring.json');
  await writeFile(path, serializeRing(buildRing(null, nodes, { replicas: 6, partitionBits: 6, seed: 1 })));
  const { code, out } = await plan('durability', '--ring', path, '--ec', '4+2', ...COMMON, '--repair-rate', '100', '--json');
  t.equal(code, 0);
  const [row] = (JSON.parse(out) as { rows: { nodes: number; zones: number; distinctSets: number; estimate: { coveredFraction: number } }[] }).rows;
  t.equal(row!.nodes, 12);
  t.equal(row!.zones, 3);
  t.ok(row!.distinctSets > 1 && row!.distinctSets <= 64);
  t.ok(row!.estimate.coveredFraction > 0 && row!.estimate.coveredFraction <= 1);
  const wrong = await plan('durability', '--ring', path, '--ec', '8+4', ...COMMON, '--repair-rate', '100');
  t.equal(wrong.code, 2);
  t.match(wrong.err, /places 12 shards; the ring places 6/);
});

t.test('bad input is refused with a usage error and prints no table', async (t) => {
  for (const args of [
    ['durability', '--ec', '4+2', '--nodes', '6', '--afr', '1.5', '--disk-size', '16'],
    ['durability', '--ec', '4-2', '--nodes', '6', ...COMMON, '--repair-rate', '50'],
    ['durability', '--ec', '4+2', '--nodes', '5', ...COMMON, '--repair-rate', '50'],
    ['durability', '--ec', '4+2', '--nodes', '6', '--afr', '100', '--disk-size', '16', '--repair-rate', '50'],
    ['durability', '--ec', '4+2', '--nodes', '1,2,3,4,5,6,7,8,9', ...COMMON, '--repair-rate', '50'],
    ['durability', '--ec', '4+2', '--nodes', '6', ...COMMON, '--repair-rate', '-5'],
    ['durability', '--ec', '4+2', '--nodes', '6', '--bogus', ...COMMON, '--repair-rate', '50'],
    ['estimate', '--ec', '4+2', '--nodes', '6', ...COMMON, '--repair-rate', '50'],
  ]) {
    const { code, out, err } = await plan(...args);
    t.equal(code, 2, args.join(' '));
    t.equal(out, '');
    t.match(err, /^tessera plan: /);
  }
});
