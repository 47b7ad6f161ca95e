/** Write quorum for k + m shards (DESIGN.md): k, or k + 1 when k = m so two writes always overlap in a reader's view. */
export function writeQuorum(dataShards: number, parityShards: number): number {
  return dataShards === parityShards ? dataShards + 1 : dataShards;
}

/** Metadata read quorum: enough nodes that every read overlaps every acknowledged write. */
export function readQuorum(dataShards: number, parityShards: number): number {
  return dataShards + parityShards - writeQuorum(dataShards, parityShards) + 1;
}

/** A strict majority of `count` nodes: any two majorities share a node, so whatever one acknowledged the next sees. */
export function majority(count: number): number {
  return Math.floor(count / 2) + 1;
}
