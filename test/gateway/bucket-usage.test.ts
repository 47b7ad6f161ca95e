import { t } from 'tap';
import { estimateUsage } from '../../src/gateway/data-path/index.js';
import { parseRing } from '../../src/placement/index.js';

/** A ring of 4 partitions over nodes a-d, 2 copies each, where `a` holds twice the slots of the others. */
const ring = parseRing({
  version: 1,
  epoch: 1,
  partitionBits: 2,
  replicas: 2,
  nodes: ['a', 'b', 'c', 'd'].map((id) => ({ id, address: `${id}:1`, zone: 'z', weight: 1 })),
  table: [
    ['a', 'b'],
    ['a', 'c'],
    ['a', 'd'],
    ['a', 'b'],
  ],
});

t.test('with every node answering, usage is the nodes\' sum over the copies each version has', async (t) => {
  // 8 versions of 100 bytes, 2 in each partition: a holds all 8, b 4, c 2, d 2.
  const answers = [
    { nodeId: 'a', objects: 8, bytes: 800 },
    { nodeId: 'b', objects: 4, bytes: 400 },
    { nodeId: 'c', objects: 2, bytes: 200 },
    { nodeId: 'd', objects: 2, bytes: 200 },
  ];
  t.same(estimateUsage(ring, answers), { objects: 8, bytes: 800, complete: true });
});

t.test('a node that did not answer is made up for by the share of the ring the others hold', async (t) => {
  t.same(estimateUsage(ring, [{ nodeId: 'b', objects: 4, bytes: 400 }, { nodeId: 'c', objects: 2, bytes: 200 }, { nodeId: 'd', objects: 2, bytes: 200 }]), { objects: 8, bytes: 800, complete: false }, 'without the node of half the slots');
  t.same(estimateUsage(ring, []), { objects: 0, bytes: 0, complete: false }, 'no answer, no figure');
  t.same(estimateUsage(ring, [{ nodeId: 'x', objects: 5, bytes: 5 }]), { objects: 0, bytes: 0, complete: false }, 'a node the ring does not know holds no share');
});
