import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { t } from 'tap';
import { silentLogger } from '../../../src/common/index.js';
import { ClusterView, PreviousRingFinder } from '../../../src/gateway/cluster/index.js';
import { buildRing, serializeRing, type Ring, type RingNode } from '../../../src/placement/index.js';
import { NodeClient } from '../../../src/rpc/index.js';
import { StorageNode } from '../../../src/storage-node/index.js';
import { until } from '../../helpers/until.js';

/**
 * How a gateway learns the ring its current one replaced from real storage nodes: which answer wins,
 * when the search ends with nothing to install, and that a gateway whose nodes do not answer keeps
 * searching until they do.
 */

const SECRET = 'previous-ring-secret';
const OPTIONS = { replicas: 3, partitionBits: 2, seed: 1 };

interface Nodes {
  members: RingNode[];
  /** Offers `ring` to the nodes at `indexes`. */
  offer(ring: Ring, indexes?: readonly number[]): Promise<void>;
  stop(): Promise<void>;
  /** Starts the stopped nodes again on their ports and data. */
  restart(): Promise<void>;
}

async function startNodes(t: { teardown(fn: () => Promise<void>): void }, count: number): Promise<Nodes> {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-previous-ring-'));
  const running: (StorageNode | undefined)[] = [];
  const ports: number[] = [];
  const start = async (i: number, port: number): Promise<number> => {
    const node = new StorageNode({ nodeId: `n${i}`, dataDir: join(dir, `n${i}`), host: '127.0.0.1', port, clusterSecret: SECRET, logger: silentLogger(), healing: false });
    running[i] = node;
    return (await node.start()).port;
  };
  for (let i = 0; i < count; i += 1) ports.push(await start(i, 0));
  const members = ports.map((port, i) => ({ id: `n${i}`, address: `127.0.0.1:${port}`, zone: 'z', weight: 1 }));
  const clients = members.map((m) => new NodeClient({ nodeId: m.id, address: m.address, clusterSecret: SECRET }));
  const stop = async (): Promise<void> => {
    for (const [i, node] of running.entries()) {
      await node?.close();
      running[i] = undefined;
    }
  };
  t.teardown(async () => {
    for (const client of clients) await client.close();
    await stop();
    await rm(dir, { recursive: true, force: true });
  });
  return {
    members,
    async offer(ring, indexes = members.map((_, i) => i)) {
      for (const i of indexes) await clients[i]?.offerRing(JSON.parse(serializeRing(ring)));
    },
    stop,
    async restart() {
      for (const [i, port] of ports.entries()) if (running[i] === undefined) await start(i, port);
    },
  };
}

/** A cluster view on `ring` and a finder for it, closed when `t` ends. */
function viewOf(t: { teardown(fn: () => Promise<void>): void }, ring: Ring): { view: ClusterView; finder: PreviousRingFinder } {
  const view = new ClusterView(ring, { clusterSecret: SECRET });
  const finder = new PreviousRingFinder({ cluster: view, logger: silentLogger(), timeoutMs: 2_000, retryMs: 50 });
  t.teardown(async () => {
    finder.close();
    await view.close();
  });
  return { view, finder };
}

t.test('the newest previous ring among the nodes wins: a node that skipped an epoch holds an older one', async (t) => {
  const nodes = await startNodes(t, 3);
  const r1 = buildRing(null, nodes.members, OPTIONS);
  const r2 = buildRing(r1, nodes.members, OPTIONS);
  const r3 = buildRing(r2, nodes.members, OPTIONS);
  await nodes.offer(r1);
  await nodes.offer(r2, [0, 1]);
  await nodes.offer(r3);
  const { view, finder } = viewOf(t, r3);
  t.equal(await finder.find(), 'installed');
  t.equal(view.previous?.epoch, 2, 'epoch 2, which epoch 3 replaced, not the epoch 1 node n2 still names');
  t.equal(view.current.epoch, 3, 'the current ring is unchanged');
});

t.test('when every node holds the current ring and none a previous one, the search ends with nothing installed', async (t) => {
  const nodes = await startNodes(t, 3);
  const r1 = buildRing(null, nodes.members, OPTIONS);
  const r2 = buildRing(r1, nodes.members, OPTIONS);
  // Nodes whose first ring is epoch 2: as nodes from before previous rings were kept.
  await nodes.offer(r2);
  const { view, finder } = viewOf(t, r2);
  t.equal(await finder.find(), 'kept');
  t.equal(view.previous, undefined);
});

t.test('a search no node answers leaves the view on its current ring, and installs the previous ring once the nodes are back', async (t) => {
  const nodes = await startNodes(t, 3);
  const r1 = buildRing(null, nodes.members, OPTIONS);
  const r2 = buildRing(r1, nodes.members, OPTIONS);
  await nodes.offer(r1);
  await nodes.offer(r2);
  await nodes.stop();
  const { view, finder } = viewOf(t, r2);
  t.equal(await finder.find(), 'undecided', 'no node answered');
  t.equal(view.previous, undefined, 'reads use the current ring meanwhile');
  await nodes.restart();
  await until('the previous ring is installed in the background', async () => view.previous?.epoch === 1, 15_000, 20);
  t.pass('installed once the nodes answered');
});
