/**
 * Copies rows filled in visiting order into the table: row v of `rows` is partition `order[v]`.
 * Both fills fill a scratch table in visiting order, so the rows they work on stay in cache.
 */
export function scatterRows(rows: Int32Array, order: Int32Array, table: Int32Array, replicas: number): void {
  for (let visited = 0, from = 0; visited < order.length; visited++) {
    const to = order[visited]! * replicas;
    for (let i = 0; i < replicas; i++) table[to + i] = rows[from++]!;
  }
}
