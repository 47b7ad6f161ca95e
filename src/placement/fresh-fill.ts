import { Deadlines } from './deadlines.js';
import { scatterRows } from './scatter-rows.js';
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
  const { replicas, partitions, zoneOf, zoneCaps, order } = a;
  // Rows are visited in seeded random order, and each is read and written a dozen times while it
  // fills: in a scratch table laid out in visiting order those accesses stay in cache, and the
  // rows are scattered to their partitions once at the end. Nothing the fill decides depends on
  // where a row lives, so the result is the same.
  const table = a.table;
  a.table = new Int32Array(table.length).fill(-1);
  const nodeIds: number[] = [];
  for (let x = 0; x < zoneOf.length; x++) if (zoneOf[x]! >= 0) nodeIds.push(x);
  const zoneIds = Array.from(zoneCaps, (_, z) => z);
  // A zone's level is the rows it needs at cap members a row: it must put members into this row
  // when its deficit exceeds cap x (rows left - 1), that is when ceil(deficit / cap) >= rows left.
  const zoneLevel = (z: number): number => Math.ceil(a.zoneDeficitOf(z) / zoneCaps[z]!);
  const nodes = new Deadlines((x) => a.deficit(x), nodeIds, zoneOf.length, partitions);
  const zones = new Deadlines(zoneLevel, zoneIds, zoneCaps.length, partitions);
  let base = 0;
  let filled = 0;
  const put = (x: number): void => {
    const z = zoneOf[x]!;
    const nodeBefore = a.deficit(x);
    const zoneBefore = zoneLevel(z);
    a.place(base, filled++, x);
    nodes.moved(x, nodeBefore, a.deficit(x));
    zones.moved(z, zoneBefore, zoneLevel(z));
  };
  // Due ids go in the order a max-heap on (deficit, then id) would give them.
  const byNodeNeed = (x: number, y: number): number => a.deficit(y) - a.deficit(x) || x - y;
  const byZoneNeed = (z: number, w: number): number =>
    a.zoneDeficitOf(w) / zoneCaps[w]! - a.zoneDeficitOf(z) / zoneCaps[z]! || z - w;
  const urgent: number[] = [];
  for (let visited = 0; visited < partitions; visited++) {
    const rowsLeft = partitions - visited;
    base = visited * replicas;
    filled = 0;
    // Nodes that must be in every remaining row.
    nodes.collect(rowsLeft);
    if (nodes.due.length > 0) {
      urgent.length = 0;
      for (const x of nodes.due) if (a.deficit(x) > 0) urgent.push(x);
      urgent.sort(byNodeNeed);
      for (const x of urgent) {
        const z = zoneOf[x]!;
        if (filled < replicas && a.zoneCountExcept(base, -1, z) < zoneCaps[z]!) put(x);
      }
    }
    // Zones that must put members into this row to still fit in the rows after it.
    zones.collect(rowsLeft);
    if (zones.due.length > 0) {
      urgent.length = 0;
      for (const z of zones.due) if (a.zoneDeficitOf(z) > 0) urgent.push(z);
      urgent.sort(byZoneNeed);
      for (const z of urgent) {
        let owed = a.zoneDeficitOf(z) - zoneCaps[z]! * (rowsLeft - 1);
        while (owed > 0 && filled < replicas && a.zoneCountExcept(base, -1, z) < zoneCaps[z]!) {
          const x = a.pickFromZone(z, base);
          if (x < 0) break;
          put(x);
          owed--;
        }
      }
    }
    while (filled < replicas) {
      const x = a.pickReceiver(base, filled);
      if (x < 0) break;
      put(x);
    }
  }
  scatterRows(a.table, order, table, replicas);
  a.table = table;
}
