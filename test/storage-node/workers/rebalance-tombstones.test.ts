import { t } from 'tap';
import { silentLogger } from '../../../src/common/index.js';
import { buildRing, type Ring, type RingNode } from '../../../src/placement/index.js';
import type { VersionDeleteRequest } from '../../../src/rpc/index.js';
import { RingStore } from '../../../src/storage-node/index.js';
import { HealingFigures } from '../../../src/storage-node/workers/healing-figures.js';
import type { PeerClients } from '../../../src/storage-node/workers/peer-clients.js';
import { RebalanceWorker } from '../../../src/storage-node/workers/rebalance-worker.js';
import { openStore, shardRef, tempDir } from '../store-fixture.js';

/**
 * Rebalance hands a node's tombstones of versions deleted by id on to the other members of each key's
 * set under the new ring, so a member new to a set refuses the deleted version too. A member that
 * refuses for Object Lock has heard of the delete; one that cannot be reached keeps the epoch unfinished.
 */

const MEMBERS: RingNode[] = ['me', 'a', 'b'].map((id) => ({ id, address: `127.0.0.1:${id.length}`, zone: 'z', weight: 1 }));

/** Peers that record every delete by id they are sent; `fail` decides an answer per node. */
function fakePeers(calls: string[], fail: (nodeId: string) => Error | undefined): PeerClients {
  return {
    get: (node: RingNode) => ({
      listBuckets: async () => [],
      deleteVersion: async (request: VersionDeleteRequest) => {
        calls.push(`${node.id} ${request.key} ${request.versionId}${request.bypassGovernance === true ? ' bypass' : ''}`);
        const error = fail(node.id);
        if (error !== undefined) throw error;
        return null;
      },
    }),
  } as unknown as PeerClients;
}

/** A ring change: the cluster's second ring (the first has no predecessor, so nothing to hand on). */
function secondRing(): Ring {
  const options = { replicas: 3, partitionBits: 2, seed: 1 };
  return buildRing(buildRing(null, MEMBERS, options), MEMBERS, options);
}

async function rebalanceUntilIdle(worker: RebalanceWorker): Promise<void> {
  const signal = new AbortController().signal;
  for (let steps = 0; steps < 20; steps += 1) if ((await worker.step(signal)).idle) return;
  throw new Error('rebalance never went idle');
}

t.test('after a ring change a node hands every tombstone of a version deleted by id on to the other members of its set', async (t) => {
  const dir = await tempDir(t, 'rebalance-gone');
  const store = await openStore(dir);
  t.teardown(() => store.close());
  await store.deleteVersion('b', 'k', shardRef('k', 1).versionId, { bypassGovernance: true });
  await store.deleteVersion('b', 'j', shardRef('j', 2).versionId);
  const rings = new RingStore(dir);
  await rings.offer(secondRing());
  const calls: string[] = [];
  const worker = new RebalanceWorker({ nodeId: 'me', store, rings, peers: fakePeers(calls, () => undefined), figures: new HealingFigures(), logger: silentLogger(), settleMs: 0 });
  await rebalanceUntilIdle(worker);
  t.same(
    calls.sort(),
    [`a j ${shardRef('j', 2).versionId}`, `a k ${shardRef('k', 1).versionId} bypass`, `b j ${shardRef('j', 2).versionId}`, `b k ${shardRef('k', 1).versionId} bypass`],
    'each other member gets the delete, with the bypass the original delete had',
  );
  t.ok(worker.settled(rings.current?.epoch ?? -1), 'the epoch is done');
});

t.test('a member refusing for Object Lock counts as told; one that cannot be reached keeps the epoch unfinished', async (t) => {
  const dir = await tempDir(t, 'rebalance-gone-fail');
  const store = await openStore(dir);
  t.teardown(() => store.close());
  await store.deleteVersion('b', 'k', shardRef('k', 1).versionId);
  const rings = new RingStore(dir);
  await rings.offer(secondRing());
  const calls: string[] = [];
  let bDown = true;
  const locked = Object.assign(new Error('locked'), { code: 'Conflict' });
  const worker = new RebalanceWorker({
    nodeId: 'me',
    store,
    rings,
    peers: fakePeers(calls, (id) => (id === 'a' ? locked : bDown && id === 'b' ? new Error('connection refused') : undefined)),
    figures: new HealingFigures(),
    logger: silentLogger(),
    settleMs: 0,
  });
  await rebalanceUntilIdle(worker);
  t.notOk(worker.settled(rings.current?.epoch ?? -1), 'an unreachable member keeps the epoch unfinished');
  bDown = false;
  await rebalanceUntilIdle(worker);
  t.ok(worker.settled(rings.current?.epoch ?? -1), 'the next pass reaches it and the epoch is done');
  t.equal(calls.filter((call) => call.startsWith('b ')).length, 2, 'the unreachable member was asked again');
});
