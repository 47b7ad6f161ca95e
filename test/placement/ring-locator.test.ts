import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import fc from 'fast-check';
import { t } from 'tap';
import xxhash from 'xxhash-wasm';
import { RingLocator, buildRing } from '../../src/placement/index.js';
import { cluster, node } from './clusters.js';

const reference = await xxhash();
const encoder = new TextEncoder();

/** The documented framing, built the slow way: u32le(utf8 length of bucket) || bucket || key. */
function referencePartition(bucket: string, key: string, bits: number): number {
  const b = encoder.encode(bucket);
  const k = encoder.encode(key);
  const bytes = new Uint8Array(4 + b.length + k.length);
  new DataView(bytes.buffer).setUint32(0, b.length, true);
  bytes.set(b, 4);
  bytes.set(k, 4 + b.length);
  return bits === 0 ? 0 : Number(reference.h64Raw(bytes, 0n) >> BigInt(64 - bits));
}

const ring = buildRing(null, cluster(12, 3), { replicas: 6, partitionBits: 10, seed: 1 });
const locator = new RingLocator(ring);

t.test('partitionOf is the top bits of xxhash64 over the length-prefixed bucket and key', (t) => {
  const text = fc.string({ unit: fc.oneof(fc.constant('\ud83d'), fc.string({ unit: 'binary', minLength: 1, maxLength: 1 })), maxLength: 400 });
  fc.assert(
    fc.property(text, text, (bucket, key) => locator.partitionOf(bucket, key) === referencePartition(bucket, key, 10)),
    { numRuns: 3000 },
  );
  t.end();
});

t.test('the framing keeps bucket and key apart', (t) => {
  // Same concatenation, different split: the length prefix makes the hashed bytes differ.
  const a = referencePartition('ab', 'c/d', 10);
  t.equal(locator.partitionOf('ab', 'c/d'), a);
  t.equal(locator.partitionOf('a', 'bc/d'), referencePartition('a', 'bc/d', 10));
  t.end();
});

t.test('locate returns the partition row as node records, the same frozen array every time', (t) => {
  const first = locator.locate('photos', '2024/01/cat.jpg');
  t.same(first.nodes.map((n) => n.id), ring.table.row(first.partition));
  t.equal(locator.locate('photos', '2024/01/cat.jpg').nodes, first.nodes);
  t.ok(Object.isFrozen(first.nodes));
  t.equal(locator.ring, ring);
  t.end();
});

t.test('keys spread evenly over partitions', (t) => {
  const hits = new Array<number>(1024).fill(0);
  const keys = 200_000;
  for (let i = 0; i < keys; i++) hits[locator.partitionOf('bucket', `logs/2024/${i}.gz`)]! += 1;
  const mean = keys / 1024;
  // ~195 per partition, sd ~14: 1.35x the mean is over 5 sd away.
  t.ok(Math.max(...hits) < mean * 1.35, `max ${Math.max(...hits)} vs mean ${mean}`);
  t.ok(Math.min(...hits) > mean * 0.65, `min ${Math.min(...hits)} vs mean ${mean}`);
  t.end();
});

t.test('long keys hash the same, whether they fit the WebAssembly hash\'s page or go to the scratch buffer', (t) => {
  const fits = 'k'.repeat(5000) + '\u00e9'.repeat(3000);
  t.equal(locator.partitionOf('b', fits), referencePartition('b', fits, 10));
  // Room for 3 bytes a UTF-16 unit is past the page's 64 KiB.
  const beyond = 'k'.repeat(20_000) + '\u00e9'.repeat(5000);
  t.equal(locator.partitionOf('b', beyond), referencePartition('b', beyond, 10));
  t.end();
});

t.test('without WebAssembly (node --jitless) lookups hash the same in JavaScript', async (t) => {
  // The compiled tree imports its own .js; run from source, the child needs tsx to read the .ts.
  const fromSource = import.meta.url.endsWith('.ts');
  const placement = new URL(`../../src/placement/index.${fromSource ? 'ts' : 'js'}`, import.meta.url).href;
  const keys = ['2024/01/cat.jpg', 'caf\u00e9/\ud83d\ude00', 'x'.repeat(3000)];
  const script = `
    const { RingLocator, buildRing } = await import(${JSON.stringify(placement)});
    const node = (i, zone) => ({ id: 'node-' + String(i).padStart(4, '0'), address: '10.0.0.' + i + ':9100', zone, weight: 1 });
    const ring = buildRing(null, Array.from({ length: 12 }, (_, i) => node(i, 'zone-' + (i % 3))), { replicas: 6, partitionBits: 10, seed: 1 });
    const locator = new RingLocator(ring);
    console.log(JSON.stringify({ wasm: typeof WebAssembly, partitions: ${JSON.stringify(keys)}.map((key) => locator.partitionOf('photos', key)) }));
  `;
  const args = [...(fromSource ? ['--import', 'tsx'] : []), '--jitless', '--input-type=module', '-e', script];
  const { stdout } = await promisify(execFile)(process.execPath, args, { encoding: 'utf8' });
  const answer = JSON.parse(stdout) as { wasm: string; partitions: number[] };
  t.equal(answer.wasm, 'undefined', 'the child runs without WebAssembly');
  t.same(answer.partitions, keys.map((key) => referencePartition('photos', key, 10)));
});

t.test('a zero-bit ring has one partition', (t) => {
  const single = buildRing(null, cluster(6, 1), { replicas: 6, partitionBits: 0, seed: 1 });
  t.equal(single.table.partitions, 1);
  t.equal(new RingLocator(single).locate('a', 'b').partition, 0);
  t.end();
});

t.test('handoffs: every other node once, distinct zones first, least-used zones first, draining nodes last', (t) => {
  const nodes = [...cluster(15, 5), { ...node(99, 'zone-0'), weight: 0 }];
  const r = buildRing(null, nodes, { replicas: 4, partitionBits: 6, seed: 9 });
  const rl = new RingLocator(r);
  for (let p = 0; p < r.table.partitions; p++) {
    const set = new Set(r.table.row(p));
    const list = rl.handoffs(p);
    t.equal(list.length, nodes.length - 4);
    t.equal(new Set(list.map((n) => n.id)).size, list.length);
    t.notOk(list.some((n) => set.has(n.id)));
    t.equal(list.at(-1)!.id, 'node-0099');
    const zonesWithSpare = new Set(list.filter((n) => n.weight > 0).map((n) => n.zone));
    const leading = list.slice(0, zonesWithSpare.size).map((n) => n.zone);
    t.equal(new Set(leading).size, leading.length, `partition ${p}: first handoffs in distinct zones`);
    const used = new Map<string, number>();
    for (const id of r.table.row(p)) {
      const zone = r.nodes.find((n) => n.id === id)!.zone;
      used.set(zone, (used.get(zone) ?? 0) + 1);
    }
    const load = leading.map((zone) => used.get(zone) ?? 0);
    t.same(load, [...load].sort((a, b) => a - b), `partition ${p}: zones holding fewer members come first`);
    t.equal(rl.handoffs(p), list, 'memoised');
  }
  t.throws(() => rl.handoffs(r.table.partitions), { code: 'InvalidPartition' });
  t.throws(() => rl.handoffs(-1), { code: 'InvalidPartition' });
  t.end();
});

t.test('a joining node reorders handoffs only where it becomes its zone\'s first choice', (t) => {
  const before = buildRing(null, cluster(12, 3), { replicas: 4, partitionBits: 6, seed: 2 });
  const newcomer = node(50, 'zone-1');
  const after = buildRing(before, [...before.nodes, newcomer], { replicas: 4, partitionBits: 6, seed: 2 });
  const [was, is] = [new RingLocator(before), new RingLocator(after)];
  let compared = 0;
  for (let p = 0; p < before.table.partitions; p++) {
    if (before.table.row(p).join() !== after.table.row(p).join()) continue;
    const next = is.handoffs(p);
    const leads = next.find((n) => n.zone === newcomer.zone)!.id === newcomer.id;
    if (leads) continue;
    compared++;
    const survivors = next.filter((n) => n.id !== newcomer.id).map((n) => n.id);
    t.same(survivors, was.handoffs(p).map((n) => n.id), `partition ${p}`);
  }
  t.ok(compared > 10, `${compared} partitions compared`);
  t.end();
});
