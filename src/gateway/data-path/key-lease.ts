import { setTimeout as delay } from 'node:timers/promises';
import { randomHex } from '../../common/index.js';
import { fanOutUntil, type NodeClient } from '../../rpc/index.js';
import { S3Error } from '../s3/index.js';
import { withTimeout, type RequestScope } from './request-scope.js';

/** How long a lease lives unless given back: far longer than a conditional write's last check and commit. */
const LEASE_TTL_MS = 30_000;
/** How long a conditional write waits for another one of the same key before answering SlowDown. */
const LEASE_WAIT_MS = 20_000;

/**
 * Takes the short lease on bucket/key (storage-node/key-leases.ts) that makes a conditional write's
 * last check and commit atomic with respect to every other conditional write of the key, through any
 * gateway; resolves with the function that gives it back. The lease is held once a majority of the
 * key's set granted it: any two majorities share a node, so two gateways that reach different nodes
 * (a link cut between one gateway and one node) still exclude each other, and a node that restarts
 * and forgets its leases cannot hand the key to a second writer alone. A round that wins no majority
 * gives back what it got and tries again after a random pause, so two contenders do not split the
 * set forever.
 */
export async function acquireKeyLease(ctx: RequestScope, bucket: string, key: string): Promise<() => Promise<void>> {
  const { services } = ctx;
  const token = randomHex(16);
  const nodes = services.cluster.nodesFor(bucket, key);
  const needed = Math.floor(nodes.length / 2) + 1;
  const deadline = Date.now() + LEASE_WAIT_MS;
  const giveBack = (granted: ReadonlySet<string>): Promise<void> => {
    const signal = AbortSignal.timeout(services.metadataTimeoutMs);
    const calls = nodes.map((node) => node.lease({ bucket, key, token, ttlMs: LEASE_TTL_MS, release: true }, { signal }).catch(() => undefined));
    // Nodes that may hold it without our knowing (a late grant) are told too, without waiting on them.
    return Promise.all(calls.filter((_, i) => granted.has((nodes[i] as NodeClient).nodeId))).then(() => undefined);
  };
  let pauseMs = 5;
  for (;;) {
    ctx.signal.throwIfAborted();
    const signal = withTimeout(ctx.signal, services.metadataTimeoutMs);
    const outcomes = await fanOutUntil(
      nodes,
      (node) => node.lease({ bucket, key, token, ttlMs: LEASE_TTL_MS }, { signal }),
      (sofar) => {
        const grants = sofar.filter((o) => o.ok && o.value).length;
        return grants >= needed || sofar.length - grants > nodes.length - needed;
      },
    );
    const granted = new Set(outcomes.filter((o) => o.ok && o.value).map((o) => o.nodeId));
    if (granted.size >= needed) return () => giveBack(granted);
    await giveBack(granted);
    // Too many nodes out of reach for any majority: no wait will help.
    if (outcomes.filter((o) => !o.ok).length > nodes.length - needed) {
      throw new S3Error('ServiceUnavailable', { message: 'Too few storage nodes could order this conditional write; please retry.' });
    }
    if (Date.now() > deadline) throw new S3Error('SlowDown', { message: 'Another conditional write of this key is in progress; please retry.' });
    // Random, so that two writers that split the set do not meet again at the same moment.
    await delay(pauseMs / 2 + Math.random() * pauseMs, undefined, { signal: ctx.signal });
    pauseMs = Math.min(pauseMs * 2, 100);
  }
}
