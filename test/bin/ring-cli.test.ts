import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { t } from 'tap';
import { runRingCli } from '../../src/bin/ring-cli.js';
import { RingLocator, buildRing, parseRing } from '../../src/placement/index.js';

const dir = await mkdtemp(join(tmpdir(), 'tessera-ring-cli-'));
t.teardown(() => rm(dir, { recursive: true, force: true }));

async function ring(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runRingCli(args, { stdout: (s) => (out += s), stderr: (s) => (err += s) });
  return { code, out, err };
}

const file = (name: string): string => join(dir, name);
const nodeArgs = (count: number, zones = 3): string[] =>
  Array.from({ length: count }, (_, i) => ['--node', `n${i + 1}=10.0.0.${i + 1}:9100,zone=z${i % zones}`]).flat();

t.test('create writes a valid epoch-1 ring and shows its balance', async (t) => {
  const r = await ring('create', file('a.json'), ...nodeArgs(9), '--partition-bits', '8');
  t.equal(r.code, 0, r.err);
  const written = parseRing(await readFile(file('a.json'), 'utf8'));
  t.equal(written.epoch, 1);
  t.equal(written.replicas, 6);
  t.equal(written.partitionBits, 8);
  t.equal(written.nodes.length, 9);
  t.match(r.out, /epoch 1, 256 partitions \(bits 8\), 6 replicas, 9 nodes in 3 zones, 1536 slots/);
  t.match(r.out, /zone spread 2 per partition \(limit 2\)/);
  t.match(r.out, /^n1 +z0 +10\.0\.0\.1:9100 +1 +171 +170\.7/m);
});

t.test('create is deterministic and refuses to overwrite without --force', async (t) => {
  t.equal((await ring('create', file('b.json'), ...nodeArgs(9), '--partition-bits', '8')).code, 0);
  t.equal(await readFile(file('b.json'), 'utf8'), await readFile(file('a.json'), 'utf8'));
  const again = await ring('create', file('b.json'), ...nodeArgs(9));
  t.equal(again.code, 2);
  t.match(again.err, /exists; pass --force/);
  t.equal((await ring('create', file('b.json'), ...nodeArgs(9), '--seed', '7', '--force')).code, 0);
  t.not(await readFile(file('b.json'), 'utf8'), await readFile(file('a.json'), 'utf8'), 'another seed, another table');
});

t.test('create fills paced by default; --fill urgency writes the table a gateway derives from the same nodes', async (t) => {
  const nodes = parseRing(await readFile(file('a.json'), 'utf8')).nodes;
  const options = { replicas: 6, partitionBits: 8, seed: 0 };
  t.ok(parseRing(await readFile(file('a.json'), 'utf8')).table.equals(buildRing(null, nodes, { ...options, fill: 'paced' }).table), 'the file holds the paced table');
  const r = await ring('create', file('urgency.json'), ...nodeArgs(9), '--partition-bits', '8', '--fill', 'urgency');
  t.equal(r.code, 0, r.err);
  t.ok(parseRing(await readFile(file('urgency.json'), 'utf8')).table.equals(buildRing(null, nodes, options).table), 'the file holds the table a gateway derives');
  const bad = await ring('create', file('bad.json'), ...nodeArgs(9), '--fill', 'fastest');
  t.equal(bad.code, 2);
  t.match(bad.err, /--fill must be paced or urgency/);
});

t.test('create reads --nodes from a node list or a config-shaped file, with config defaults', async (t) => {
  const list = Array.from({ length: 6 }, (_, i) => ({ id: `s${i}`, address: `127.0.0.1:${9101 + i}` }));
  await writeFile(file('nodes.json'), JSON.stringify({ nodes: list }));
  const r = await ring('create', file('c.json'), '--nodes', file('nodes.json'), '--replicas', '6');
  t.equal(r.code, 0, r.err);
  const c = parseRing(await readFile(file('c.json'), 'utf8'));
  t.same(c.nodes.map((n) => [n.zone, n.weight]), list.map(() => ['default', 1]));
  await writeFile(file('list.json'), JSON.stringify(list));
  t.equal((await ring('create', file('d.json'), '--nodes', file('list.json'))).code, 0);
});

t.test('add, remove and reweight write the next epoch and report movement against the minimum', async (t) => {
  await writeFile(file('e.json'), await readFile(file('a.json')));
  const added = await ring('add', file('e.json'), '--node', 'n10=10.0.0.10:9100,zone=z1');
  t.equal(added.code, 0, added.err);
  t.match(added.out, /epoch 1 -> 2: \d+ of 1536 slots move .*\(1\.0\dx the minimum \d+\)/);
  t.equal(parseRing(await readFile(file('e.json'), 'utf8')).epoch, 2);

  const removed = await ring('remove', file('e.json'), 'n2', '--out', file('f.json'));
  t.equal(removed.code, 0, removed.err);
  t.equal(parseRing(await readFile(file('e.json'), 'utf8')).epoch, 2, '--out leaves the original alone');
  const f = parseRing(await readFile(file('f.json'), 'utf8'));
  t.equal(f.epoch, 3);
  t.notOk(f.nodes.some((n) => n.id === 'n2'));

  const reweighted = await ring('reweight', file('f.json'), 'n3', '0');
  t.equal(reweighted.code, 0, reweighted.err);
  const g = parseRing(await readFile(file('f.json'), 'utf8'));
  t.equal(g.nodes.find((n) => n.id === 'n3')!.weight, 0);
  t.notOk([...g.table].some((row) => row.includes('n3')), 'a zero-weight node is drained');
});

t.test('diff lists slots moved per node', async (t) => {
  await writeFile(file('h.json'), await readFile(file('a.json')));
  t.equal((await ring('add', file('h.json'), '--node', 'n10=10.0.0.10:9100,zone=z0')).code, 0);
  const r = await ring('diff', file('a.json'), file('h.json'));
  t.equal(r.code, 0, r.err);
  t.match(r.out, /^NODE +BEFORE +AFTER +GAINED +LOST$/m);
  t.match(r.out, /^n10 +- +\d+ +\d+ +0$/m);
  const gained = /^n10 +- +(\d+) +(\d+)/m.exec(r.out)!;
  t.equal(gained[1], gained[2], 'everything the new node holds moved to it');
});

t.test('locate prints the partition and the nodes by shard index, as placement computes them', async (t) => {
  const a = parseRing(await readFile(file('a.json'), 'utf8'));
  const expected = new RingLocator(a).locate('photos', '2024/cat.jpg');
  const r = await ring('locate', file('a.json'), 'photos', '2024/cat.jpg', '--data-shards', '4');
  t.equal(r.code, 0, r.err);
  t.match(r.out, new RegExp(`partition ${expected.partition} of 256 \\(epoch 1\\)`));
  expected.nodes.forEach((node, i) => t.match(r.out, new RegExp(`^ +${i}  ${i < 4 ? 'data  ' : 'parity'}  ${node.id} `, 'm')));
  t.match(r.out, /^handoffs, in order: n\d/m);
  const json = await ring('locate', file('a.json'), 'photos', '2024/cat.jpg', '--json');
  const doc = JSON.parse(json.out) as { partition: number; shards: { shardIndex: number; id: string }[] };
  t.equal(doc.partition, expected.partition);
  t.same(doc.shards.map((s) => s.id), expected.nodes.map((n) => n.id));
});

t.test('usage errors exit 2, failed work exits 1', async (t) => {
  t.equal((await ring()).code, 2);
  const help = await ring('--help');
  t.equal(help.code, 0);
  t.match(help.out, /usage: tessera ring <command>/);
  const unknown = await ring('frobnicate');
  t.equal(unknown.code, 2);
  t.match(unknown.err, /unknown command "frobnicate"[\s\S]*usage: tessera ring/);
  t.equal((await ring('show')).code, 2);
  t.equal((await ring('show', file('a.json'), '--bogus')).code, 2);
  t.match((await ring('create', file('x.json'), '--node', 'n1')).err, /expected ID=HOST:PORT/);
  t.match((await ring('create', file('x.json'), '--node', 'n1=h:1,colour=red')).err, /unknown field "colour"/);
  t.match((await ring('reweight', file('a.json'), 'n1', 'heavy')).err, /weight must be a number/);
  t.match((await ring('remove', file('a.json'), 'ghost')).err, /node ghost is not in the ring/);
  t.match((await ring('add', file('a.json'), '--node', 'n1=h:1')).err, /node n1 is already in the ring/);

  const missing = await ring('show', file('nope.json'));
  t.equal(missing.code, 1);
  t.match(missing.err, /ENOENT/);
  await writeFile(file('bad.json'), '{"version": 1, "epoch": 1}');
  const bad = await ring('show', file('bad.json'));
  t.equal(bad.code, 1);
  t.match(bad.err, /bad\.json: replicas must be an integer/);
  const few = await ring('create', file('y.json'), ...nodeArgs(4));
  t.equal(few.code, 1);
  t.match(few.err, /replicas 6 needs at least 6 members/);
});

t.test('show warns when zones are too small to spread every partition', async (t) => {
  const nodes = ['a1', 'a2', 'a3', 'a4'].map((id, i) => ['--node', `${id}=h:${9000 + i},zone=a`]).flat();
  t.equal((await ring('create', file('z.json'), ...nodes, '--node', 'b1=h:9100,zone=b', '--node', 'c1=h:9200,zone=c', '--partition-bits', '6')).code, 0);
  const r = await ring('show', file('z.json'));
  t.match(r.out, /warning: a partition holds 4 members of one zone, above ceil\(6\/3\) = 2/);
});
