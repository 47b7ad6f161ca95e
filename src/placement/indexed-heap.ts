/**
 * A max-heap of small integer ids ordered by `keys[id]` (higher first), then `ranks[id]` (lower
 * first), then id. Keys live outside so the owner changes one and calls `update(id)`; `slots` is
 * shared between heaps whose id sets are disjoint, so each heap needs no id-sized array of its own.
 *
 * A key that only fell may be reported with `lowered(id)` instead (the heap keeps each id's key as
 * it last ordered it, an upper bound): `peek` and `pop` re-key a stale top before answering, so the top is always
 * exactly what eager updates would give. A large ring build lowers millions of keys whose ids
 * never reach the top before they fall again, and skips their re-sorting.
 */
export class IndexedHeap {
  private readonly heap: Int32Array;
  /** The key each position was ordered by: keys[heap[at]] or, for a lowered key, more. */
  private readonly held: Float64Array;
  private readonly keys: Float64Array;
  private readonly ranks: Uint32Array;
  private readonly slots: Int32Array;
  private count = 0;

  /** `slots[id]` must be -1 for ids not yet in any heap sharing it. */
  constructor(capacity: number, keys: Float64Array, ranks: Uint32Array, slots: Int32Array) {
    this.heap = new Int32Array(Math.max(1, capacity));
    this.held = new Float64Array(Math.max(1, capacity));
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
    this.up(at, id, this.keys[id]!);
  }

  /** The top id without removing it, or -1 when empty. */
  peek(): number {
    const heap = this.heap;
    for (;;) {
      if (this.count === 0) return -1;
      const id = heap[0]!;
      const key = this.keys[id]!;
      if (key === this.held[0]) return id;
      this.down(0, id, key);
    }
  }

  /** Removes and returns the top id; the heap must not be empty. */
  pop(): number {
    const top = this.peek();
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
    if (at >= 0) this.place(at, id, this.keys[id]!);
  }

  /** Notes that keys[id] fell; the heap re-sorts id only if it comes to the top. */
  lowered(id: number): void {
    if (this.slots[id]! >= 0 && this.keys[id]! > this.held[this.slots[id]!]!) this.update(id);
  }

  private removeAt(at: number): void {
    const id = this.heap[at]!;
    this.slots[id] = -1;
    const last = --this.count;
    if (at === last) return;
    this.place(at, this.heap[last]!, this.held[last]!);
  }

  /** Puts id (ordered by key) at position `at` and sifts it whichever way it must go. */
  private place(at: number, id: number, key: number): void {
    const to = this.up(at, id, key);
    if (to === at) this.down(at, id, key);
  }

  private before(ka: number, a: number, kb: number, b: number): boolean {
    if (ka !== kb) return ka > kb;
    const ra = this.ranks[a]!;
    const rb = this.ranks[b]!;
    return ra !== rb ? ra < rb : a < b;
  }

  // up and down spell out `before` on locals: they run twice per slot of a ring build.
  private up(start: number, id: number, key: number): number {
    const { heap, held, slots, ranks } = this;
    const rank = ranks[id]!;
    let at = start;
    while (at > 0) {
      const parent = (at - 1) >> 1;
      const other = heap[parent]!;
      const otherKey = held[parent]!;
      if (key < otherKey) break;
      if (key === otherKey) {
        const otherRank = ranks[other]!;
        if (rank > otherRank || (rank === otherRank && id > other)) break;
      }
      heap[at] = other;
      held[at] = otherKey;
      slots[other] = at;
      at = parent;
    }
    heap[at] = id;
    held[at] = key;
    slots[id] = at;
    return at;
  }

  private down(start: number, id: number, key: number): void {
    const { heap, held, slots, ranks } = this;
    const count = this.count;
    const rank = ranks[id]!;
    let at = start;
    for (;;) {
      const left = 2 * at + 1;
      if (left >= count) break;
      const right = left + 1;
      let child = left;
      let other = heap[left]!;
      let otherKey = held[left]!;
      if (right < count) {
        const rightId = heap[right]!;
        const rightKey = held[right]!;
        if (rightKey > otherKey || (rightKey === otherKey && this.before(rightKey, rightId, otherKey, other))) {
          child = right;
          other = rightId;
          otherKey = rightKey;
        }
      }
      if (otherKey < key) break;
      if (otherKey === key) {
        const otherRank = ranks[other]!;
        if (otherRank > rank || (otherRank === rank && other > id)) break;
      }
      heap[at] = other;
      held[at] = otherKey;
      slots[other] = at;
      at = child;
    }
    heap[at] = id;
    held[at] = key;
    slots[id] = at;
  }
}
