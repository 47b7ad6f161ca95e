import { setTimeout as delay } from 'node:timers/promises';
import { randomHex } from '../../common/index.js';
import type { NodeClient } from '../../rpc/index.js';
import { S3Error } from '../s3/index.js';
import { withTimeout, type RequestScope } from './request-scope.js';

/** How long a lease lives unless given back: far longer than a conditional write's last check and commit. */
const LEASE_TTL_MS = 30_000;
/** How long a conditional write waits for another one of the same key before answering SlowDown. */
const LEASE_WAIT_MS = 20_000;

/**
 * Takes the short lease on bucket/key (storage-node/key-leases.ts) that makes a conditional write's
 * last check and commit atomic with respect to every other conditional write of the key, through any
 * gateway; resolves with the function that gives it back. The lease lives on the first node of the
 * key's set that answers: while that node is down the next one holds leases, so exclusion can lapse
 * only while the set's first node is unreachable from one gateway and reachable from another.
 */
export async function acquireKeyLease(ctx: RequestScope, bucket: string, key: string): Promise<() => Promise<void>> {
  const { services } = ctx;
  const token = randomHex(16);
  const nodes = services.cluster.nodesFor(bucket, key);
  const deadline = Date.now() + LEASE_WAIT_MS;
  let pauseMs = 5;
  for (;;) {
    ctx.signal.throwIfAborted();
    let holder: NodeClient | undefined;
    let granted = false;
    for (const node of nodes) {
      try {
        granted = await node.lease({ bucket, key, token, ttlMs: LEASE_TTL_MS }, { signal: withTimeout(ctx.signal, services.metadataTimeoutMs) });
        holder = node;
        break;
      } catch {
        // That node cannot hold leases now: the next one of the set does.
      }
    }
    if (holder === undefined) throw new S3Error('ServiceUnavailable', { message: 'No storage node could order this conditional write; please retry.' });
    if (granted) {
      const node = holder;
      return async () => {
        await node.lease({ bucket, key, token, ttlMs: LEASE_TTL_MS, release: true }, { signal: AbortSignal.timeout(services.metadataTimeoutMs) }).catch(() => undefined);
      };
    }
    if (Date.now() > deadline) throw new S3Error('SlowDown', { message: 'Another conditional write of this key is in progress; please retry.' });
    await delay(pauseMs, undefined, { signal: ctx.signal });
    pauseMs = Math.min(pauseMs * 2, 100);
  }
}
