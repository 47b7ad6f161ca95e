import { createHash } from 'node:crypto';
import { t } from 'tap';
import { buildRing, serializeRing } from '../../src/placement/index.js';
import type { Ring, RingNode } from '../../src/placement/index.js';
import { cluster, node } from './clusters.js';

/**
 * Gateways started from a configuration derive their ring from the member list and seed rather
 * than read a ring file (ringFromConfig), so a new version must derive exactly the ring an older
 * one did: a different table would send every read to nodes that never held the data. These
 * digests were taken from the builder as it shipped; a change to them is a data migration.
 */
const digest = (ring: Ring): string => createHash('sha256').update(serializeRing(ring)).digest('hex').slice(0, 16);

interface Case {
  name: string;
  build: () => Ring;
}

const weights = [1, 2, 0.5, 3, 1, 1, 4];
const mixed = (count: number, zones: number): RingNode[] => cluster(count, zones, (i) => weights[i % weights.length]!);

const cases: Case[] = [
  { name: 'embedded default: 6 nodes, 4+2, 2^10', build: () => buildRing(null, cluster(6, 1), { replicas: 6, partitionBits: 10, seed: 1 }) },
  { name: '24 nodes in 3 zones, 8+4, 2^12', build: () => buildRing(null, cluster(24, 3), { replicas: 12, partitionBits: 12, seed: 7 }) },
  { name: 'mixed weights, 40 nodes in 5 zones, 4+2, 2^12', build: () => buildRing(null, mixed(40, 5), { replicas: 6, partitionBits: 12, seed: 3 }) },
  { name: 'zones smaller than the cap: 7 nodes in 4 zones, 4+2', build: () => buildRing(null, cluster(7, 4), { replicas: 6, partitionBits: 9, seed: 11 }) },
  { name: '3 replicas, 10 nodes, one zone', build: () => buildRing(null, cluster(10, 1), { replicas: 3, partitionBits: 10, seed: 0 }) },
  { name: '1,000 nodes in 20 zones, 4+2, 2^14', build: () => buildRing(null, cluster(1000, 20), { replicas: 6, partitionBits: 14, seed: 5 }) },
  {
    name: 'adding a node to 40 mixed nodes',
    build: () => {
      const first = buildRing(null, mixed(40, 5), { replicas: 6, partitionBits: 12, seed: 3 });
      return buildRing(first, [...mixed(40, 5), node(40, 'zone-2', 2)], { replicas: 6, partitionBits: 12, seed: 3 });
    },
  },
  {
    name: 'removing a node and reweighting another',
    build: () => {
      const members = mixed(40, 5);
      const first = buildRing(null, members, { replicas: 6, partitionBits: 12, seed: 3 });
      const next = members.filter((n) => n.id !== 'node-0007').map((n) => (n.id === 'node-0012' ? { ...n, weight: 5 } : n));
      return buildRing(first, next, { replicas: 6, partitionBits: 12, seed: 3 });
    },
  },
  {
    name: 'a new zone, and partitions split',
    build: () => {
      const first = buildRing(null, cluster(12, 2), { replicas: 6, partitionBits: 10, seed: 9 });
      return buildRing(first, cluster(18, 3), { replicas: 6, partitionBits: 11, seed: 9 });
    },
  },
];

const expected: Record<string, string> = {
  "embedded default: 6 nodes, 4+2, 2^10": "fbf5a0983a9923cf",
  "24 nodes in 3 zones, 8+4, 2^12": "8c6f06161d8c6804",
  "mixed weights, 40 nodes in 5 zones, 4+2, 2^12": "197ef68b5446138f",
  "zones smaller than the cap: 7 nodes in 4 zones, 4+2": "f17c939564ed5aae",
  "3 replicas, 10 nodes, one zone": "3793b8af27a7092e",
  "1,000 nodes in 20 zones, 4+2, 2^14": "fb8682e721621079",
  "adding a node to 40 mixed nodes": "75db309597b1f85d",
  "removing a node and reweighting another": "9e008502e3c98192",
  "a new zone, and partitions split": "ebc0b486900b052f",
};

t.test('rings derived from the same members and seed are the ones earlier versions derived', (t) => {
  for (const c of cases) t.equal(digest(c.build()), expected[c.name], c.name);
  t.end();
});
