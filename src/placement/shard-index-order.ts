/**
 * Orders each row of a fresh table so every node holds each shard index in proportion to its
 * slots. Shard 0 (the first data shard) is what healthy reads hit first, so it is balanced first:
 * row by row, index i goes to the member whose share of its slots at index i is lowest so far.
 * Only for fresh tables: on a rebuild, moving a node to another index would move its data.
 *
 * Shares are compared as exact fractions, equal ones by seeded rank. Derived rings depend on this
 * order, so it never changes.
 */
export function orderByExactShare(table: Int32Array, replicas: number, counts: Int32Array, ranks: Uint32Array): void {
  const held = new Int32Array(counts.length * replicas);
  for (let base = 0; base < table.length; base += replicas) {
    for (let i = 0; i < replicas; i++) {
      let best = i;
      let b = table[base + i]!;
      let heldB = held[b * replicas + i]!;
      let countB = counts[b]!;
      for (let j = i + 1; j < replicas; j++) {
        const a = table[base + j]!;
        const lhs = held[a * replicas + i]! * countB;
        const rhs = heldB * counts[a]!;
        if (lhs < rhs || (lhs === rhs && ranks[a]! < ranks[b]!)) {
          best = j;
          b = a;
          heldB = held[a * replicas + i]!;
          countB = counts[a]!;
        }
      }
      const chosen = b;
      table[base + best] = table[base + i]!;
      table[base + i] = chosen;
      held[chosen * replicas + i]! += 1;
    }
  }
}
