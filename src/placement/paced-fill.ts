import { Deadlines } from './deadlines.js';
import type { SeededRandom } from './seeded-random.js';

/** What the paced fill works on; `table` is partitions x replicas node indexes, all -1. */
export interface PacedFillInput {
  replicas: number;
  partitions: number;
  table: Int32Array;
  quota: Int32Array;
  /** Zone index per node, -1 for a node that holds nothing. */
  zoneOf: Int32Array;
  zoneCaps: Int32Array;
  /** Partition visiting order (a seeded permutation). */
  order: Int32Array;
  random: SeededRandom;
}

// A row that cannot be filled from the calendar's first entries stops looking after this many
// steps (entries and empty days) and leaves its slots empty for the assigner's repair: only a
// cluster whose zones barely fit their caps gets there, and never for more than a few rows.
const WALK_BUDGET = 1 << 16;

/**
 * Fills an empty table so every node's slots are spread evenly over the partitions, in time
 * linear in the slots. Each node with a quota of q slots is given a due row for each of them:
 * the c-th at (c + u) x P / q of the P rows, u drawn anew for every slot, so a node comes round at
 * its own pace and the order of equal nodes is shuffled on every round (a fixed order would pair
 * the same nodes in partition after partition). Rows are visited in seeded random order. Each row
 * first takes what can no longer wait, exactly as the heap fill does (a node owed as many slots as
 * rows are left, a zone owed more than its cap can place in the rows after this one); the rest of
 * the row takes the nodes due soonest whose zone is under its cap. Due rows are integers, so the
 * nodes wait in a calendar of one list per row instead of a heap: placing a slot costs a constant.
 * Whatever the fill leaves short (a zone at its cap in every row) is finished by the assigner.
 */
export function fillPacedTable(input: PacedFillInput): void {
  const { replicas, partitions, quota, zoneOf, zoneCaps, order, random } = input;
  const nodeCount = quota.length;
  const rows = new Int32Array(partitions * replicas).fill(-1);
  const placed = new Int32Array(nodeCount);
  const zoneDeficit = new Int32Array(zoneCaps.length);
  const inRow = new Uint8Array(nodeCount);
  const zoneInRow = new Int32Array(zoneCaps.length);
  const calendar = new Calendar(partitions, nodeCount);
  const scale = partitions / 4294967296;
  const schedule = (x: number, after: number): void => {
    // Due at (placed + u) x P / q: the product stays below 2^53, so the floor is exact.
    const due = Math.floor(((placed[x]! * 4294967296 + random.nextUint32()) * scale) / quota[x]!);
    calendar.add(x, due < after ? after : due);
  };
  const nodeIds: number[] = [];
  for (let x = 0; x < nodeCount; x++) {
    if (zoneOf[x]! < 0 || quota[x]! <= 0) continue;
    nodeIds.push(x);
    zoneDeficit[zoneOf[x]!]! += quota[x]!;
    schedule(x, 0);
  }
  const zoneIds = Array.from(zoneCaps, (_, z) => z);
  const deficit = (x: number): number => quota[x]! - placed[x]!;
  const zoneLevel = (z: number): number => Math.ceil(zoneDeficit[z]! / zoneCaps[z]!);
  const nodes = new Deadlines(deficit, nodeIds, nodeCount, partitions);
  const zones = new Deadlines(zoneLevel, zoneIds, zoneCaps.length, partitions);
  let base = 0;
  let filled = 0;
  const fits = (x: number): boolean => inRow[x] === 0 && zoneInRow[zoneOf[x]!]! < zoneCaps[zoneOf[x]!]!;
  const take = (x: number, visited: number): void => {
    const z = zoneOf[x]!;
    const nodeBefore = deficit(x);
    const zoneBefore = zoneLevel(z);
    rows[base + filled++] = x;
    inRow[x] = 1;
    zoneInRow[z]! += 1;
    placed[x]! += 1;
    zoneDeficit[z]! -= 1;
    nodes.moved(x, nodeBefore, deficit(x));
    zones.moved(z, zoneBefore, zoneLevel(z));
    calendar.remove(x);
    if (placed[x]! < quota[x]!) schedule(x, Math.min(partitions - 1, visited + 1));
  };
  // The first node in calendar order, from the earliest day on, that `accept` takes; -1 if the
  // walk's budget runs out first.
  const walk = (accept: (x: number) => boolean): number => {
    let steps = 0;
    for (let day = calendar.earliest(); day < partitions && steps < WALK_BUDGET; day++) {
      steps++;
      for (let x = calendar.head[day]!; x >= 0 && steps < WALK_BUDGET; x = calendar.next[x]!) {
        steps++;
        if (accept(x)) return x;
      }
    }
    return -1;
  };
  const byNodeNeed = (x: number, y: number): number => deficit(y) - deficit(x) || x - y;
  const byZoneNeed = (z: number, w: number): number => zoneDeficit[w]! / zoneCaps[w]! - zoneDeficit[z]! / zoneCaps[z]! || z - w;
  const urgent: number[] = [];
  for (let visited = 0; visited < partitions; visited++) {
    const rowsLeft = partitions - visited;
    base = visited * replicas;
    filled = 0;
    nodes.collect(rowsLeft);
    if (nodes.due.length > 0) {
      urgent.length = 0;
      for (const x of nodes.due) if (deficit(x) > 0) urgent.push(x);
      urgent.sort(byNodeNeed);
      for (const x of urgent) if (filled < replicas && fits(x)) take(x, visited);
    }
    zones.collect(rowsLeft);
    if (zones.due.length > 0) {
      urgent.length = 0;
      for (const z of zones.due) if (zoneDeficit[z]! > 0) urgent.push(z);
      urgent.sort(byZoneNeed);
      for (const z of urgent) {
        let owed = zoneDeficit[z]! - zoneCaps[z]! * (rowsLeft - 1);
        while (owed > 0 && filled < replicas && zoneInRow[z]! < zoneCaps[z]!) {
          const x = walk((y) => zoneOf[y] === z && inRow[y] === 0);
          if (x < 0) break;
          take(x, visited);
          owed--;
        }
      }
    }
    // The rest: due soonest first. Scanning by hand rather than through walk() keeps the common
    // case (the first entries fit) free of a closure call per entry.
    let steps = 0;
    for (let day = calendar.earliest(); filled < replicas && day < partitions && steps < WALK_BUDGET; day++) {
      steps++;
      let x = calendar.head[day]!;
      while (x >= 0 && filled < replicas && steps < WALK_BUDGET) {
        steps++;
        const after = calendar.next[x]!;
        if (fits(x)) take(x, visited);
        x = after;
      }
    }
    for (let i = 0; i < filled; i++) {
      const x = rows[base + i]!;
      inRow[x] = 0;
      zoneInRow[zoneOf[x]!] = 0;
    }
  }
  const table = input.table;
  for (let visited = 0, from = 0; visited < partitions; visited++) {
    const to = order[visited]! * replicas;
    for (let i = 0; i < replicas; i++) table[to + i] = rows[from++]!;
  }
}

/**
 * Nodes waiting for their due row: one doubly linked list per row (a day), appended at the tail,
 * so nodes due the same day keep the order they were scheduled in. Days before `first` are empty.
 */
class Calendar {
  readonly head: Int32Array;
  readonly next: Int32Array;
  private readonly tail: Int32Array;
  private readonly prev: Int32Array;
  private readonly dayOf: Int32Array;
  private first = 0;

  constructor(days: number, ids: number) {
    this.head = new Int32Array(days).fill(-1);
    this.tail = new Int32Array(days).fill(-1);
    this.next = new Int32Array(ids).fill(-1);
    this.prev = new Int32Array(ids).fill(-1);
    this.dayOf = new Int32Array(ids).fill(-1);
  }

  /** Appends x to `day`; x must not be in the calendar. */
  add(x: number, day: number): void {
    const last = this.tail[day]!;
    this.prev[x] = last;
    this.next[x] = -1;
    if (last >= 0) this.next[last] = x;
    else this.head[day] = x;
    this.tail[day] = x;
    this.dayOf[x] = day;
    if (day < this.first) this.first = day;
  }

  /** Takes x out of its day. */
  remove(x: number): void {
    const day = this.dayOf[x]!;
    const before = this.prev[x]!;
    const after = this.next[x]!;
    if (before >= 0) this.next[before] = after;
    else this.head[day] = after;
    if (after >= 0) this.prev[after] = before;
    else this.tail[day] = before;
    this.dayOf[x] = -1;
  }

  /** The earliest day that holds a node (the last day when none does). */
  earliest(): number {
    while (this.first < this.head.length - 1 && this.head[this.first]! < 0) this.first++;
    return this.first;
  }
}
