import { IndexedHeap } from './indexed-heap.js';
import type { SlotAssigner } from './slot-assigner.js';

/**
 * Fills an empty table row by row. Each row first takes what can no longer wait: a node whose
 * deficit equals the rows left must be in every one of them, and a zone whose deficit exceeds
 * cap x (rows left - 1) must put the difference into this row. The rest of the row goes to the
 * nodes furthest behind their quota, so every node fills at the same pace and heavy nodes meet
 * the whole cluster rather than each other. (Taking the largest deficits first would also meet
 * every quota, but it packs the heaviest nodes together into the first partitions, and a later
 * change that removes one of them then has to move far more than its own slots.)
 */
export function fillFreshTable(a: SlotAssigner): void {
  const { replicas, partitions, zoneOf, zoneCaps } = a;
  const nodeCount = zoneOf.length;
  const zoneCount = zoneCaps.length;
  const nodeNeed = new Float64Array(nodeCount);
  const zoneNeed = new Float64Array(zoneCount);
  const noRanks = new Uint32Array(Math.max(nodeCount, zoneCount));
  const nodes = new IndexedHeap(nodeCount, nodeNeed, noRanks, new Int32Array(nodeCount).fill(-1));
  const zones = new IndexedHeap(zoneCount, zoneNeed, noRanks, new Int32Array(zoneCount).fill(-1));
  const track = (x: number): void => {
    nodeNeed[x] = a.deficit(x);
    if (nodeNeed[x]! > 0) nodes.update(x);
    else nodes.remove(x);
    const z = zoneOf[x]!;
    zoneNeed[z] = a.zoneDeficitOf(z) / zoneCaps[z]!;
    if (zoneNeed[z]! > 0) zones.update(z);
    else zones.remove(z);
  };
  for (let x = 0; x < nodeCount; x++) {
    if (zoneOf[x]! < 0 || a.deficit(x) === 0) continue;
    nodeNeed[x] = a.deficit(x);
    nodes.push(x);
  }
  for (let z = 0; z < zoneCount; z++) {
    zoneNeed[z] = a.zoneDeficitOf(z) / zoneCaps[z]!;
    if (zoneNeed[z]! > 0) zones.push(z);
  }
  const popped: number[] = [];
  a.order.forEach((p, visited) => {
    const rowsLeft = partitions - visited;
    const base = p * replicas;
    let filled = 0;
    const put = (x: number): void => {
      a.place(base, filled++, x);
      track(x);
    };
    // Nodes that must be in every remaining row.
    popped.length = 0;
    while (nodes.size > 0 && nodeNeed[nodes.peek()]! >= rowsLeft) popped.push(nodes.pop());
    for (const x of popped) {
      if (nodeNeed[x]! > 0) nodes.push(x);
      const z = zoneOf[x]!;
      if (filled < replicas && a.zoneCountExcept(base, -1, z) < zoneCaps[z]!) put(x);
    }
    // Zones that must put members into this row to still fit in the rows after it.
    popped.length = 0;
    while (zones.size > 0 && zoneNeed[zones.peek()]! > rowsLeft - 1) popped.push(zones.pop());
    for (const z of popped) {
      if (zoneNeed[z]! > 0) zones.push(z);
      let owed = a.zoneDeficitOf(z) - zoneCaps[z]! * (rowsLeft - 1);
      while (owed > 0 && filled < replicas && a.zoneCountExcept(base, -1, z) < zoneCaps[z]!) {
        const x = a.pickFromZone(z, base);
        if (x < 0) break;
        put(x);
        owed--;
      }
    }
    while (filled < replicas) {
      const x = a.pickReceiver(base, filled);
      if (x < 0) break;
      put(x);
    }
  });
}
