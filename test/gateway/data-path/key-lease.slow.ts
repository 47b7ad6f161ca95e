import { t } from 'tap';
import { acquireKeyLease, holdKeyLease, type LeaseScope } from '../../../src/gateway/data-path/index.js';
import { NodeClient } from '../../../src/rpc/index.js';
import { startCluster } from '../../helpers/cluster.js';
import { freePorts } from '../../helpers/ports.js';

/**
 * Conditional writes are ordered by a lease on the key's nodes. Two gateways that see different
 * subsets of those nodes (a link cut between one gateway and one node) must still exclude each other.
 */

const SECRET = 'test-cluster-secret';

/** A node client that counts lease calls, so a test can wait for a contender to have tried. */
class CountingClient extends NodeClient {
  leaseCalls = 0;

  override async leaseAnswer(...args: Parameters<NodeClient['leaseAnswer']>): ReturnType<NodeClient['leaseAnswer']> {
    this.leaseCalls += 1;
    return super.leaseAnswer(...args);
  }
}

/** What acquireKeyLease needs of a request: its nodes and deadlines. */
function scopeOver(nodes: readonly NodeClient[], signal: AbortSignal): LeaseScope {
  return { signal, services: { cluster: { nodesFor: () => nodes }, metadataTimeoutMs: 2_000 } } as unknown as LeaseScope;
}

async function until(condition: () => boolean, what: string, limitMs = 20_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

t.test("a gateway cut off from a key's first node cannot take the lease another gateway holds", async (t) => {
  const cluster = await startCluster();
  t.teardown(() => cluster.close());
  const [unreachablePort] = await freePorts(1);
  const addresses = cluster.nodes.map((node) => `127.0.0.1:${node.address.port}`);
  // Gateway A reaches every node; gateway B's link to the first node is cut (nothing listens where it looks).
  const viewA = addresses.map((address, i) => new CountingClient({ nodeId: `node-${i}`, address, clusterSecret: SECRET }));
  const viewB = addresses.map(
    (address, i) => new CountingClient({ nodeId: `node-${i}`, address: i === 0 ? `127.0.0.1:${unreachablePort}` : address, clusterSecret: SECRET, connectTimeoutMs: 500 }),
  );
  t.teardown(async () => {
    for (const client of [...viewA, ...viewB]) await client.close();
  });
  const abortB = new AbortController();
  t.teardown(() => abortB.abort());

  const leaseA = await acquireKeyLease(scopeOver(viewA, new AbortController().signal), 'bucket', 'key');
  let bHolds = false;
  const acquiredB = acquireKeyLease(scopeOver(viewB, abortB.signal), 'bucket', 'key').then((lease) => {
    bHolds = true;
    return lease;
  });
  // B has asked the nodes it reaches at least twice: every node it can reach has answered it once.
  const bCalls = (): number => viewB.slice(1).reduce((sum, client) => sum + client.leaseCalls, 0);
  await until(() => bHolds || bCalls() >= 2 * (viewB.length - 1), "gateway B's second round of lease requests");
  t.notOk(bHolds, 'gateway B does not hold the lease while gateway A does');
  await leaseA.release();
  const leaseB = await acquiredB;
  t.ok(bHolds, 'gateway B takes the lease once gateway A gives it back');
  await leaseB.release();
});

t.test('a held lease that had to wait for another holder counts from its grant, so its check passes', async (t) => {
  const cluster = await startCluster();
  t.teardown(() => cluster.close());
  const addresses = cluster.nodes.map((node) => `127.0.0.1:${node.address.port}`);
  const view = addresses.map((address, i) => new CountingClient({ nodeId: `node-${i}`, address, clusterSecret: SECRET }));
  t.teardown(async () => {
    for (const client of view) await client.close();
  });
  const first = await acquireKeyLease(scopeOver(view, new AbortController().signal), 'bucket', 'held');
  const waiting = holdKeyLease(scopeOver(view, new AbortController().signal), 'bucket', 'held', 'busy');
  // Longer than the margin a held lease needs left at its check (half its 30 s life), shorter than the 20 s a lease is waited for.
  await new Promise((resolve) => setTimeout(resolve, 16_000));
  await first.release();
  const held = await waiting;
  t.doesNotThrow(() => held.check(), 'the check right after the grant passes');
  await held.release();
});
