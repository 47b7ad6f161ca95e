/**
 * A max-heap of small integer ids ordered by `keys[id]` (higher first), then `ranks[id]` (lower
 * first), then id. Keys live outside so the owner changes one and calls `update(id)`; `slots` is
 * shared between heaps whose id sets are disjoint, so each heap needs no id-sized array of its own.
 */
export class IndexedHeap {
  private readonly heap: Int32Array;
  private readonly keys: Float64Array;
  private readonly ranks: Uint32Array;
  private readonly slots: Int32Array;
  private count = 0;

  /** `slots[id]` must be -1 for ids not yet in any heap sharing it. */
  constructor(capacity: number, keys: Float64Array, ranks: Uint32Array, slots: Int32Array) {
    this.heap = new Int32Array(Math.max(1, capacity));
    this.keys = keys;
    this.ranks = ranks;
    this.slots = slots;
  }

  /** Number of ids in the heap. */
  get size(): number {
    return this.count;
  }

  /** True when id is in the heap (valid only if id belongs to this heap's id set). */
  has(id: number): boolean {
    return this.slots[id]! >= 0;
  }

  /** Adds id; it must not be present. */
  push(id: number): void {
    const at = this.count++;
    this.heap[at] = id;
    this.slots[id] = at;
    this.up(at);
  }

  /** The top id without removing it, or -1 when empty. */
  peek(): number {
    return this.count > 0 ? this.heap[0]! : -1;
  }

  /** Removes and returns the top id; the heap must not be empty. */
  pop(): number {
    const top = this.heap[0]!;
    this.removeAt(0);
    return top;
  }

  /** Removes id if present. */
  remove(id: number): void {
    const at = this.slots[id]!;
    if (at >= 0) this.removeAt(at);
  }

  /** Restores order after keys[id] changed. */
  update(id: number): void {
    const at = this.slots[id]!;
    if (at >= 0) this.down(this.up(at));
  }

  private removeAt(at: number): void {
    const id = this.heap[at]!;
    this.slots[id] = -1;
    const last = --this.count;
    if (at === last) return;
    const moved = this.heap[last]!;
    this.heap[at] = moved;
    this.slots[moved] = at;
    this.down(this.up(at));
  }

  private before(a: number, b: number): boolean {
    const ka = this.keys[a]!;
    const kb = this.keys[b]!;
    if (ka !== kb) return ka > kb;
    const ra = this.ranks[a]!;
    const rb = this.ranks[b]!;
    return ra !== rb ? ra < rb : a < b;
  }

  private up(start: number): number {
    const heap = this.heap;
    const id = heap[start]!;
    let at = start;
    while (at > 0) {
      const parent = (at - 1) >> 1;
      const other = heap[parent]!;
      if (!this.before(id, other)) break;
      heap[at] = other;
      this.slots[other] = at;
      at = parent;
    }
    heap[at] = id;
    this.slots[id] = at;
    return at;
  }

  private down(start: number): void {
    const heap = this.heap;
    const id = heap[start]!;
    let at = start;
    for (;;) {
      const left = 2 * at + 1;
      if (left >= this.count) break;
      const right = left + 1;
      const child = right < this.count && this.before(heap[right]!, heap[left]!) ? right : left;
      const other = heap[child]!;
      if (!this.before(other, id)) break;
      heap[at] = other;
      this.slots[other] = at;
      at = child;
    }
    heap[at] = id;
    this.slots[id] = at;
  }
}
