import { t } from 'tap';
import { buildRing, parseRing, serializeRing } from '../../src/placement/index.js';
import { cluster } from './clusters.js';

const ring = buildRing(null, cluster(8, 3), { replicas: 6, partitionBits: 4, seed: 3 });

t.test('serializeRing and parseRing round-trip losslessly', (t) => {
  const text = serializeRing(ring);
  const parsed = parseRing(text);
  t.same(parsed, ring);
  t.ok(parsed.table.equals(ring.table), 'every slot names the same node');
  t.same([...parsed.table], [...ring.table]);
  t.equal(serializeRing(parsed), text);
  const fromValue = parseRing(JSON.parse(text));
  t.ok(fromValue.table.equals(ring.table), 'a parsed JSON value works as well as the text');
  t.end();
});

t.test('the file has one node and one partition per line', (t) => {
  const lines = serializeRing(ring).split('\n');
  t.equal(lines.filter((line) => line.includes('"address"')).length, 8);
  t.equal(lines.filter((line) => /^ {4}\["node-/.test(line)).length, 16);
  t.end();
});

t.test('parsed and built rings are frozen, and a row handed out is a copy', (t) => {
  const parsed = parseRing(serializeRing(ring));
  for (const value of [ring, parsed]) {
    t.ok(Object.isFrozen(value) && Object.isFrozen(value.table));
    t.ok(Object.isFrozen(value.nodes) && Object.isFrozen(value.nodes[0]));
    const row = value.table.row(0);
    const first = row[0];
    row[0] = 'someone-else';
    t.equal(value.table.row(0)[0], first);
  }
  t.end();
});

t.test('a table refuses a partition or shard outside its shape', (t) => {
  t.throws(() => ring.table.row(16), { code: 'InvalidPartition' });
  t.throws(() => ring.table.row(-1), { code: 'InvalidPartition' });
  t.throws(() => ring.table.nodeIndex(0, 6), { code: 'InvalidPartition' });
  t.throws(() => ring.table.nodeId(1.5, 0), { code: 'InvalidPartition' });
  t.throws(() => ring.table.slotCounts(6), { code: 'InvalidPartition' });
  t.equal(ring.table.nodeId(3, 2), ring.table.row(3)[2]);
  t.end();
});

t.test('a ring of more than 65,536 nodes keeps every node index', (t) => {
  const many = Array.from({ length: 70_000 }, (_, i) => ({ id: `n${i}`, address: `h:${1 + (i % 60000)}`, zone: 'z', weight: 1 }));
  const last = many.length - 1;
  const rows = [[`n${last}`, 'n0'], ['n65536', `n${last - 1}`]];
  const big = parseRing({ version: 1, epoch: 1, partitionBits: 1, replicas: 2, nodes: many, table: rows });
  t.same([...big.table], rows);
  t.equal(big.table.nodeIndex(0, 0), last);
  t.end();
});

type Doc = Record<string, unknown>;
const doc = (): Doc => JSON.parse(serializeRing(ring)) as Doc;
const table = (d: Doc): string[][] => d['table'] as string[][];
const nodes = (d: Doc): Doc[] => d['nodes'] as Doc[];

const broken: [string, (d: Doc) => unknown, RegExp][] = [
  ['not an object', () => 42, /must be a JSON object/],
  ['bad JSON text', () => '{"version":', /not valid JSON/],
  ['unknown version', (d) => ({ ...d, version: 2 }), /version must be 1/],
  ['epoch 0', (d) => ({ ...d, epoch: 0 }), /epoch must be a positive integer/],
  ['fractional replicas', (d) => ({ ...d, replicas: 1.5 }), /replicas must be an integer/],
  ['partitionBits too large', (d) => ({ ...d, partitionBits: 21 }), /partitionBits must be an integer in 0-20/],
  ['nodes not an array', (d) => ({ ...d, nodes: {} }), /nodes must be an array/],
  ['duplicate node id', (d) => ({ ...d, nodes: [...nodes(d), nodes(d)[0]] }), /nodes\[8\]\.id "node-0000" is a duplicate/],
  ['address without port', (d) => { nodes(d)[2]!['address'] = 'host'; return d; }, /nodes\[2\]\.address must be "host:port"/],
  ['port out of range', (d) => { nodes(d)[2]!['address'] = 'host:70000'; return d; }, /nodes\[2\]\.address/],
  ['negative weight', (d) => { nodes(d)[1]!['weight'] = -1; return d; }, /nodes\[1\]\.weight must be a finite number/],
  ['empty zone', (d) => { nodes(d)[1]!['zone'] = ''; return d; }, /nodes\[1\]\.zone/],
  ['id with a slash', (d) => { nodes(d)[1]!['id'] = 'a/b'; return d; }, /nodes\[1\]\.id/],
  ['fewer nodes than replicas', (d) => ({ ...d, nodes: nodes(d).slice(0, 5) }), /needs at least 6 nodes/],
  ['table too short', (d) => ({ ...d, table: table(d).slice(1) }), /table must be an array of 2\^partitionBits = 16 rows/],
  ['short row', (d) => { table(d)[3] = table(d)[3]!.slice(1); return d; }, /table\[3\] must list exactly 6 node ids/],
  ['unknown id', (d) => { table(d)[3]![2] = 'ghost'; return d; }, /table\[3\]\[2\] names unknown node "ghost"/],
  ['id twice in a row', (d) => { const row = table(d)[5]!; row[1] = row[0]!; return d; }, /table\[5\] lists node "node-\d+" twice/],
];

for (const [name, breakIt, message] of broken) {
  t.test(`parseRing rejects ${name}`, (t) => {
    t.throws(() => parseRing(breakIt(doc())), { code: 'InvalidRing', message });
    t.end();
  });
}

t.test('IPv6 and DNS addresses are accepted', (t) => {
  const d = doc();
  nodes(d)[0]!['address'] = '[::1]:9000';
  nodes(d)[1]!['address'] = 'node-1.storage.internal:443';
  t.doesNotThrow(() => parseRing(d));
  t.end();
});
