import { Deadlines } from './deadlines.js';
import { scatterRows } from './scatter-rows.js';
import type { SeededRandom } from './seeded-random.js';
import type { AssignerInput } from './slot-assigner.js';

/** What the paced fill works on: the assigner's inputs it needs; `table` is all -1. */
export type PacedFillInput = Pick<AssignerInput, 'replicas' | 'partitions' | 'table' | 'quota' | 'zoneOf' | 'zoneCaps' | 'order' | 'random'>;

// A row that cannot be filled from the calendar's first entries stops looking after this many
// steps (entries and empty days) and leaves its slots empty for the assigner to finish. None of
// several thousand random cluster shapes got there; the bound keeps a pathological one linear.
const WALK_BUDGET = 1 << 16;

// Each node's state is one record of integers: the fields below.
const PLACED = 0;
const QUOTA = 1;
const ZONE = 2;
const IN_ROW = 3;
/** The calendar's links: the next and previous node due the same day, -1 at either end. */
const NEXT = 4;
const PREV = 5;
/** The day (visiting index) the node is due, -1 when it is not in the calendar. */
const DAY = 6;
/** Integers per record. */
const NODE_FIELDS = 8;

const UNIT = 1 / 4294967296;

/**
 * Fills an empty table so every node's slots are spread evenly over the partitions, in time
 * linear in the slots, and returns how many slots it left empty.
 *
 * Each node with a quota of q slots is given a due row for each of them: the c-th at
 * (c + u) x P / q of the P rows, u drawn anew for every slot, so a node comes round at its own
 * pace and the order of equal nodes is shuffled on every round (a fixed order would pair the same
 * nodes in partition after partition). Rows are visited in seeded random order. Each row first
 * takes what can no longer wait, exactly as the heap fill does (a node owed as many slots as rows
 * are left, a zone owed more than its cap can place in the rows after this one); the rest of the
 * row takes the nodes due soonest whose zone is under its cap. Due rows are integers, so the nodes
 * wait in a calendar of one list per row (a day) instead of a heap: placing a slot costs a
 * constant. Whatever the fill leaves short (a zone at its cap in every row) is for the assigner
 * to finish.
 */
export function fillPacedTable(input: PacedFillInput): number {
  return new PacedFill(input).run();
}

class PacedFill {
  private readonly replicas: number;
  private readonly partitions: number;
  private readonly input: PacedFillInput;
  private readonly random: SeededRandom;
  private readonly zoneCaps: Int32Array;
  /** The table in visiting order, scattered to the partitions at the end. */
  private readonly rows: Int32Array;
  private readonly node: Int32Array;
  private readonly zoneDeficit: Int32Array;
  private readonly zoneInRow: Int32Array;
  /** Per day, its first and last node; days before `earliest` are empty. */
  private readonly head: Int32Array;
  private readonly tail: Int32Array;
  private earliest = 0;
  private readonly nodes: Deadlines;
  private readonly zones: Deadlines;
  private base = 0;
  private filled = 0;

  constructor(input: PacedFillInput) {
    const { replicas, partitions, quota, zoneOf, zoneCaps } = input;
    const nodeCount = quota.length;
    this.input = input;
    this.replicas = replicas;
    this.partitions = partitions;
    this.random = input.random;
    this.zoneCaps = zoneCaps;
    this.rows = new Int32Array(partitions * replicas).fill(-1);
    this.node = new Int32Array(nodeCount * NODE_FIELDS);
    this.zoneDeficit = new Int32Array(zoneCaps.length);
    this.zoneInRow = new Int32Array(zoneCaps.length);
    this.head = new Int32Array(partitions).fill(-1);
    this.tail = new Int32Array(partitions).fill(-1);
    const nodeIds: number[] = [];
    for (let x = 0; x < nodeCount; x++) {
      const r = x * NODE_FIELDS;
      this.node[r + ZONE] = zoneOf[x]!;
      this.node[r + QUOTA] = quota[x]!;
      this.node[r + DAY] = -1;
      if (zoneOf[x]! < 0 || quota[x]! <= 0) continue;
      nodeIds.push(x);
      this.zoneDeficit[zoneOf[x]!]! += quota[x]!;
      this.schedule(x, 0);
    }
    this.nodes = new Deadlines((x) => this.deficit(x), nodeIds, nodeCount, partitions);
    this.zones = new Deadlines(
      (z) => this.zoneLevel(z),
      Array.from(zoneCaps, (_, z) => z),
      zoneCaps.length,
      partitions,
    );
  }

  run(): number {
    const { replicas, partitions, rows } = this;
    let short = 0;
    for (let visited = 0; visited < partitions; visited++) {
      this.base = visited * replicas;
      this.filled = 0;
      this.fillRow(visited);
      for (let i = 0; i < this.filled; i++) {
        const x = rows[this.base + i]!;
        this.node[x * NODE_FIELDS + IN_ROW] = 0;
        this.zoneInRow[this.node[x * NODE_FIELDS + ZONE]!] = 0;
      }
      short += replicas - this.filled;
    }
    scatterRows(rows, this.input.order, this.input.table, replicas);
    return short;
  }

  private deficit(x: number): number {
    return this.node[x * NODE_FIELDS + QUOTA]! - this.node[x * NODE_FIELDS + PLACED]!;
  }

  private zoneLevel(z: number): number {
    return Math.ceil(this.zoneDeficit[z]! / this.zoneCaps[z]!);
  }

  private fillRow(visited: number): void {
    const { replicas, node, head, zoneDeficit, zoneCaps, zoneInRow } = this;
    const rowsLeft = this.partitions - visited;
    // Nodes that must be in every remaining row.
    this.nodes.collect(rowsLeft);
    if (this.nodes.due.length > 0) {
      const urgent = this.nodes.due.filter((x) => this.deficit(x) > 0).sort((x, y) => this.deficit(y) - this.deficit(x) || x - y);
      for (const x of urgent) if (this.filled < replicas && this.fits(x)) this.take(x, visited);
    }
    // Zones that must put members into this row to still fit in the rows after it.
    this.zones.collect(rowsLeft);
    if (this.zones.due.length > 0) {
      const urgent = this.zones.due
        .filter((z) => zoneDeficit[z]! > 0)
        .sort((z, w) => zoneDeficit[w]! / zoneCaps[w]! - zoneDeficit[z]! / zoneCaps[z]! || z - w);
      for (const z of urgent) {
        let owed = zoneDeficit[z]! - zoneCaps[z]! * (rowsLeft - 1);
        while (owed > 0 && this.filled < replicas && zoneInRow[z]! < zoneCaps[z]!) {
          const x = this.firstOfZone(z);
          if (x < 0) break;
          this.take(x, visited);
          owed--;
        }
      }
    }
    // The rest of the row: due soonest first.
    let steps = 0;
    for (let day = this.firstDay(); this.filled < replicas && day < this.partitions && steps < WALK_BUDGET; day++) {
      steps++;
      let x = head[day]!;
      while (x >= 0 && this.filled < replicas && steps < WALK_BUDGET) {
        steps++;
        const after = node[x * NODE_FIELDS + NEXT]!;
        if (this.fits(x)) this.take(x, visited);
        x = after;
      }
    }
  }

  private fits(x: number): boolean {
    const r = x * NODE_FIELDS;
    const z = this.node[r + ZONE]!;
    return this.node[r + IN_ROW] === 0 && this.zoneInRow[z]! < this.zoneCaps[z]!;
  }

  private take(x: number, visited: number): void {
    const { node, zoneDeficit } = this;
    const r = x * NODE_FIELDS;
    const z = node[r + ZONE]!;
    const owed = node[r + QUOTA]! - node[r + PLACED]!;
    const zoneOwed = zoneDeficit[z]!;
    const cap = this.zoneCaps[z]!;
    this.rows[this.base + this.filled++] = x;
    node[r + IN_ROW] = 1;
    node[r + PLACED]! += 1;
    this.zoneInRow[z]! += 1;
    zoneDeficit[z] = zoneOwed - 1;
    this.nodes.moved(x, owed, owed - 1);
    // A zone's level, ceil(owed / cap), falls only when owed - 1 is a multiple of the cap.
    if ((zoneOwed - 1) % cap === 0) this.zones.moved(z, (zoneOwed - 1) / cap + 1, (zoneOwed - 1) / cap);
    this.unschedule(x);
    if (owed > 1) this.schedule(x, visited + 1 < this.partitions ? visited + 1 : this.partitions - 1);
  }

  /** The first node of zone z not in the row, in calendar order; -1 if the walk's budget runs out first. */
  private firstOfZone(z: number): number {
    const { node, head } = this;
    let steps = 0;
    for (let day = this.firstDay(); day < this.partitions && steps < WALK_BUDGET; day++) {
      steps++;
      for (let x = head[day]!; x >= 0 && steps < WALK_BUDGET; x = node[x * NODE_FIELDS + NEXT]!) {
        steps++;
        if (node[x * NODE_FIELDS + ZONE] === z && node[x * NODE_FIELDS + IN_ROW] === 0) return x;
      }
    }
    return -1;
  }

  private firstDay(): number {
    while (this.earliest < this.partitions - 1 && this.head[this.earliest]! < 0) this.earliest++;
    return this.earliest;
  }

  /** Puts node x at the end of its next due day, no earlier than `after`. */
  private schedule(x: number, after: number): void {
    const { node, tail } = this;
    const r = x * NODE_FIELDS;
    const due = Math.floor(((node[r + PLACED]! + this.random.nextUint32() * UNIT) * this.partitions) / node[r + QUOTA]!);
    const day = due < after ? after : due;
    const last = tail[day]!;
    node[r + PREV] = last;
    node[r + NEXT] = -1;
    node[r + DAY] = day;
    if (last >= 0) node[last * NODE_FIELDS + NEXT] = x;
    else this.head[day] = x;
    tail[day] = x;
    if (day < this.earliest) this.earliest = day;
  }

  private unschedule(x: number): void {
    const { node, head, tail } = this;
    const r = x * NODE_FIELDS;
    const day = node[r + DAY]!;
    const before = node[r + PREV]!;
    const after = node[r + NEXT]!;
    if (before >= 0) node[before * NODE_FIELDS + NEXT] = after;
    else head[day] = after;
    if (after >= 0) node[after * NODE_FIELDS + PREV] = before;
    else tail[day] = before;
    node[r + DAY] = -1;
  }
}
