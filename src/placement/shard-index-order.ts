/**
 * Orders each row of a fresh table so every node holds each shard index in proportion to its
 * slots. Shard 0 (the first data shard) is what healthy reads hit first, so it is balanced first:
 * row by row, index i goes to the member whose share of its slots at index i is lowest so far.
 * Only for fresh tables: on a rebuild, moving a node to another index would move its data.
 *
 * Two orders, one for each fill. They differ only in how equal shares are told apart.
 */

/**
 * The urgency fill's order, which derived rings depend on and so never changes: shares compared
 * as exact fractions, equal ones by seeded rank. With equal weights most comparisons are such
 * ties, which is what makes it the slower of the two.
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

/**
 * The paced fill's order: every node starts each index with a seeded fraction of a slot (its rank
 * over 2^32), so a share is (held + fraction) / slots: one double, equal to another node's only
 * if their ranks are, and each comparison is a single one. On 10,000 nodes at 8+4 it is a third
 * cheaper than the exact order, with the same spread of shard 0.
 */
export function orderByStaggeredShare(table: Int32Array, replicas: number, counts: Int32Array, ranks: Uint32Array): void {
  const held = new Float64Array(counts.length * replicas);
  const share = new Float64Array(counts.length * replicas);
  for (let x = 0; x < counts.length; x++) {
    if (counts[x]! === 0) continue;
    const start = ranks[x]! / 2 ** 32;
    held.fill(start, x * replicas, (x + 1) * replicas);
    share.fill(start / counts[x]!, x * replicas, (x + 1) * replicas);
  }
  for (let base = 0; base < table.length; base += replicas) {
    for (let i = 0; i < replicas; i++) {
      let best = i;
      let lowest = share[table[base + i]! * replicas + i]!;
      for (let j = i + 1; j < replicas; j++) {
        const s = share[table[base + j]! * replicas + i]!;
        if (s < lowest) {
          best = j;
          lowest = s;
        }
      }
      const chosen = table[base + best]!;
      table[base + best] = table[base + i]!;
      table[base + i] = chosen;
      const slot = chosen * replicas + i;
      held[slot]! += 1;
      share[slot] = held[slot]! / counts[chosen]!;
    }
  }
}
