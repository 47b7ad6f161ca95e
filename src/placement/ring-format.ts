import { RING_VERSION, checkNodes, checkShape, invalidRing } from './ring.js';
import type { Ring } from './ring.js';
import { RingTable } from './ring-table.js';

/** Deep-freezes a ring so the value (and every memo keyed on it) can never go stale; its table is immutable already. */
export function freezeRing(ring: Ring): Ring {
  for (const node of ring.nodes) Object.freeze(node);
  Object.freeze(ring.nodes);
  return Object.freeze(ring);
}

/**
 * Validates a ring document (a parsed JSON value, or the JSON text itself) and returns it as a
 * frozen Ring; throws TesseraError 'InvalidRing' naming the first problem found.
 */
export function parseRing(json: unknown): Ring {
  let doc = json;
  if (typeof json === 'string') {
    try {
      doc = JSON.parse(json);
    } catch (err) {
      invalidRing(`ring is not valid JSON: ${(err as Error).message}`);
    }
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) invalidRing('ring must be a JSON object');
  const { version, epoch, partitionBits, replicas, nodes: rawNodes, table: rawTable } = doc as Record<string, unknown>;
  if (version !== RING_VERSION) invalidRing(`ring version must be ${RING_VERSION}; got ${JSON.stringify(version)}`);
  if (typeof epoch !== 'number' || !Number.isSafeInteger(epoch) || epoch < 1) {
    invalidRing(`epoch must be a positive integer; got ${JSON.stringify(epoch)}`);
  }
  checkShape(replicas, partitionBits);
  const n = replicas as number;
  const bits = partitionBits as number;
  const nodes = checkNodes(rawNodes, 'nodes');
  if (nodes.length < n) invalidRing(`replicas ${n} needs at least ${n} nodes; the ring lists ${nodes.length}`);
  const known = new Map(nodes.map((node, x) => [node.id, x]));
  const partitions = 2 ** bits;
  if (!Array.isArray(rawTable) || rawTable.length !== partitions) {
    invalidRing(`table must be an array of 2^partitionBits = ${partitions} rows`);
  }
  const indexes = new Int32Array(partitions * n);
  rawTable.forEach((row: unknown, p) => {
    if (!Array.isArray(row) || row.length !== n) invalidRing(`table[${p}] must list exactly ${n} node ids`);
    const base = p * n;
    row.forEach((id: unknown, i) => {
      const x = typeof id === 'string' ? known.get(id) : undefined;
      if (x === undefined) invalidRing(`table[${p}][${i}] names unknown node ${JSON.stringify(id)}`);
      for (let j = base; j < base + i; j++) if (indexes[j] === x) invalidRing(`table[${p}] lists node ${JSON.stringify(id)} twice`);
      indexes[base + i] = x;
    });
  });
  const table = RingTable.fromIndexes(
    nodes.map((node) => node.id),
    n,
    indexes,
  );
  return freezeRing({ version: RING_VERSION, epoch: epoch as number, partitionBits: bits, replicas: n, nodes, table });
}

/**
 * The ring as JSON text: one node and one partition per line, rows as node ids rather than
 * indexes, so `git diff` between two epochs shows exactly the partitions that moved.
 * parseRing(serializeRing(r)) equals r.
 */
export function serializeRing(ring: Ring): string {
  const nodes = ring.nodes.map((node) =>
    JSON.stringify({ id: node.id, address: node.address, zone: node.zone, weight: node.weight }),
  );
  const ids = ring.nodes.map((node) => JSON.stringify(node.id));
  const rows = new Array<string>(ring.table.partitions);
  const entries = new Array<string>(ring.replicas);
  for (let p = 0; p < rows.length; p++) {
    for (let i = 0; i < entries.length; i++) entries[i] = ids[ring.table.nodeIndex(p, i)]!;
    rows[p] = `[${entries.join(',')}]`;
  }
  return [
    '{',
    `  "version": ${JSON.stringify(ring.version)},`,
    `  "epoch": ${JSON.stringify(ring.epoch)},`,
    `  "partitionBits": ${JSON.stringify(ring.partitionBits)},`,
    `  "replicas": ${JSON.stringify(ring.replicas)},`,
    '  "nodes": [',
    nodes.map((line) => `    ${line}`).join(',\n'),
    '  ],',
    '  "table": [',
    rows.map((line) => `    ${line}`).join(',\n'),
    '  ]',
    '}',
    '',
  ].join('\n');
}
