import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { t } from 'tap';
import { silentLogger } from '../../src/common/index.js';
import { RingLocator, buildRing, parseRing, serializeRing, type Ring, type RingNode } from '../../src/placement/index.js';
import { NodeClient } from '../../src/rpc/index.js';
import { RingStore, StorageNode } from '../../src/storage-node/index.js';
import { tempDir } from './store-fixture.js';

/**
 * A node keeps the ring its current ring replaced (what placed its data before the change), so a
 * gateway that did not see the change can learn it from the nodes: on disk beside ring.json, through
 * restarts and crashes between the two files, and served at GET /v1/ring/previous.
 */

const MEMBERS: RingNode[] = ['a', 'b', 'c', 'd', 'e'].map((id, i) => ({ id, address: `127.0.0.1:${9000 + i}`, zone: 'z', weight: 1 }));
const OPTIONS = { replicas: 3, partitionBits: 3, seed: 4 };

/** Rings of epochs 1, 2, 3, ... each built from the one before, with the membership changing every time. */
function ringChain(count: number): Ring[] {
  const rings: Ring[] = [];
  for (let i = 0; i < count; i += 1) rings.push(buildRing(rings[i - 1] ?? null, MEMBERS.slice(0, 3 + (i % 3)), OPTIONS));
  return rings;
}
const [r1, r2, r3, r4] = ringChain(4) as [Ring, Ring, Ring, Ring];

async function opened(dir: string): Promise<RingStore> {
  const rings = new RingStore(dir);
  await rings.open();
  return rings;
}

t.test('a node keeps the ring its current one replaced, and has both after a restart', async (t) => {
  const dir = await tempDir(t, 'ring-store');
  const rings = await opened(dir);
  t.equal(await rings.offer(r1), true);
  t.equal(rings.previous, undefined, 'the first ring replaced none');
  t.equal(await rings.offer(r2), true);
  t.equal(rings.current?.epoch, 2);
  t.equal(rings.previous?.epoch, 1, 'epoch 1 is kept as the previous ring');
  t.equal(rings.previousLocator?.ring, rings.previous, 'the previous ring is compiled for lookups');
  t.same(rings.previousLocator?.locate('bkt', 'key').nodes, new RingLocator(r1).locate('bkt', 'key').nodes, 'its lookups are epoch 1\'s');
  t.equal(await rings.offer(r2), false, 'an equal epoch changes nothing');
  t.equal(rings.previous?.epoch, 1);

  const restarted = await opened(dir);
  t.equal(restarted.current?.epoch, 2, 'the current ring survived the restart');
  t.equal(restarted.previous?.epoch, 1, 'and so did the previous one');
  t.equal(serializeRing(restarted.previous as Ring), serializeRing(r1), 'the previous ring is stored whole');
  t.same((await readdir(dir)).sort(), ['ring-previous.json', 'ring.json'], 'no temporary or staged file is left');
});

t.test('an offer skipping epochs keeps the ring held until then as the previous one, and an older offer changes neither', async (t) => {
  const dir = await tempDir(t, 'ring-store-skip');
  const rings = await opened(dir);
  await rings.offer(r1);
  await rings.offer(r2);
  t.equal(await rings.offer(r4), true);
  t.equal(rings.previous?.epoch, 2, 'epoch 2 placed the node data, not epoch 3 it never held');
  t.equal(await rings.offer(r3), false, 'an older epoch is refused');
  t.equal(rings.current?.epoch, 4);
  t.equal(rings.previous?.epoch, 2, 'the refused ring did not become the previous one');
  t.equal((await opened(dir)).previous?.epoch, 2, 'after a restart too');
});

t.test('a crash between the two files never leaves a previous ring as new as the current one, and the next start completes the change', async (t) => {
  // The on-disk states an offer of epoch 3 passes through (ring.json holding 2, ring-previous.json 1):
  // the ring being replaced staged and synced, ring.json replaced, the staged file renamed into place.
  const staged = 'ring-previous.json.staged';
  async function state(files: Record<string, string>): Promise<RingStore> {
    const dir = await tempDir(t, 'ring-store-crash');
    for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
    const rings = await opened(dir);
    t.notOk((await readdir(dir)).includes(staged), 'the staged file is gone after the start');
    return rings;
  }
  const before = await state({ 'ring.json': serializeRing(r2), 'ring-previous.json': serializeRing(r1), [staged]: serializeRing(r2) });
  t.equal(before.current?.epoch, 2, 'crash before ring.json was replaced: the change did not happen');
  t.equal(before.previous?.epoch, 1, 'the staged copy of the current ring is dropped, not taken as the previous one');

  const cutShort = await state({ 'ring.json': serializeRing(r2), 'ring-previous.json': serializeRing(r1), [staged]: serializeRing(r2).slice(0, 40) });
  t.equal(cutShort.previous?.epoch, 1, 'crash while staging: the cut-short file is dropped');

  const between = await state({ 'ring.json': serializeRing(r3), 'ring-previous.json': serializeRing(r1), [staged]: serializeRing(r2) });
  t.equal(between.current?.epoch, 3, 'crash between the files: the new ring is held');
  t.equal(between.previous?.epoch, 2, 'and the staged ring it replaced becomes the previous one');

  const handEdited = await state({ 'ring.json': serializeRing(r2), 'ring-previous.json': serializeRing(r3) });
  t.equal(handEdited.previous, undefined, 'a previous ring newer than the current one is never taken');
});

t.test('a previous ring file without a current ring is not taken beside the next first ring', async (t) => {
  const dir = await tempDir(t, 'ring-store-stray');
  // ring.json removed by hand (a node reset), its previous file left behind.
  await writeFile(join(dir, 'ring-previous.json'), serializeRing(r1));
  const rings = await opened(dir);
  t.equal(rings.current, undefined);
  t.equal(rings.previous, undefined, 'no previous ring without the ring that replaced it');
  await rings.offer(r3);
  t.equal(rings.previous, undefined, 'the first ring the node takes replaced none');
  t.equal((await opened(dir)).previous, undefined, 'and the stray file does not come back at the next start');
});

t.test('a node serves the ring its current one replaced and reports both epochs in its health, across a restart', async (t) => {
  const dir = await tempDir(t, 'ring-store-node');
  const secret = 'ring-store-secret';
  const start = async (port: number): Promise<StorageNode> => {
    const node = new StorageNode({ nodeId: 'a', dataDir: dir, host: '127.0.0.1', port, clusterSecret: secret, logger: silentLogger(), healing: false });
    await node.start();
    return node;
  };
  let node = await start(0);
  t.teardown(() => node.close());
  const client = new NodeClient({ nodeId: 'a', address: `127.0.0.1:${node.address.port}`, clusterSecret: secret });
  t.teardown(() => client.close());
  await client.offerRing(JSON.parse(serializeRing(r1)));
  t.equal(await client.fetchPreviousRing(), null, 'a node on its first ring has no previous one');
  t.equal((await client.health()).previousRingEpoch, 0);
  await client.offerRing(JSON.parse(serializeRing(r2)));
  t.match(await client.health(), { ringEpoch: 2, previousRingEpoch: 1 }, 'health names the current ring and the one it replaced');
  t.equal(serializeRing(parseRing(await client.fetchPreviousRing())), serializeRing(r1), 'GET /v1/ring/previous hands over epoch 1');
  t.equal(((await client.fetchRing()) as { epoch: number }).epoch, 2, 'GET /v1/ring still hands over the current ring');

  await node.close();
  node = await start(node.address.port);
  t.equal(serializeRing(parseRing(await client.fetchPreviousRing())), serializeRing(r1), 'the previous ring is served after a restart');
  t.match(await client.health(), { ringEpoch: 2, previousRingEpoch: 1 });
});
