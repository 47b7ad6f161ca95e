import { t } from 'tap';
import { ClusterView } from '../../../src/gateway/cluster/index.js';
import { RingLocator, buildRing, type Ring, type RingNode } from '../../../src/placement/index.js';

/** The cluster view's previous ring, as a gateway learns it after the fact (previous-ring-finder.ts). */

const MEMBERS: RingNode[] = ['a', 'b', 'c', 'd'].map((id, i) => ({ id, address: `127.0.0.1:${9100 + i}`, zone: 'z', weight: 1 }));
const OPTIONS = { replicas: 3, partitionBits: 2, seed: 1 };
const r1 = buildRing(null, MEMBERS.slice(0, 3), OPTIONS);
const r2 = buildRing(r1, MEMBERS, OPTIONS);
const r3 = buildRing(r2, MEMBERS.slice(1), OPTIONS);

function setOf(ring: Ring, key: string): string[] {
  return new RingLocator(ring).locate('bkt', key).nodes.map((node) => node.id);
}

t.test('a previous ring is installed only beside the ring that replaced it, older than it and newer than the one held', async (t) => {
  const view = new ClusterView(r3, { clusterSecret: 'cluster-view-secret' });
  t.teardown(() => view.close());
  t.equal(await view.installPrevious(r1, 2), false, 'epoch 1 was replaced by epoch 2, but the view is on epoch 3');
  t.equal(await view.installPrevious(r3, 3), false, 'a ring as new as the current one is no previous ring');
  t.equal(await view.installPrevious(r2, 3), true);
  t.equal(await view.installPrevious(r1, 3), false, 'a ring older than the previous one held is not taken');
  t.equal(view.previous?.epoch, 2);
  t.equal(view.current.epoch, 3, 'the current ring is unchanged');
  // A key whose epoch 2 set holds node a, which epoch 3 dropped: the view needs a client for it.
  let key = '';
  for (let i = 0; !setOf(r2, key).includes('a') || setOf(r2, key).join() === setOf(r3, key).join(); i += 1) key = `key-${i}`;
  const sets = view.readSets('bkt', key);
  t.same(sets.nodes.map((client) => client.nodeId), setOf(r3, key), 'writes and reads go to the current set');
  t.same(sets.previous?.map((client) => client.nodeId), setOf(r2, key), 'reads also look in the previous ring\'s set');
});

t.test('a normal change still makes the ring in use the previous one', async (t) => {
  const view = new ClusterView(r1, { clusterSecret: 'cluster-view-secret' });
  t.teardown(() => view.close());
  t.equal(await view.update(r2), true);
  t.equal(view.previous?.epoch, 1);
  t.equal(await view.installPrevious(r1, 2), false, 'already held');
});
