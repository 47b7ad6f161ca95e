import { parseRing, serializeRing, type Ring } from '../placement/index.js';
import { NodeClient, encodeRingOffer, type RingOffer } from '../rpc/index.js';

/** A node a ring is handed to. */
export interface PushTarget {
  id: string;
  address: string;
  /** Whether the node is a member of the ring being pushed (a failure there matters). */
  member: boolean;
  /** The node is known only by its address (`id` is that address): its ring is asked for and offered as to any node. */
  idUnknown?: boolean;
}

/** What happened at one node. */
export interface PushResult {
  target: PushTarget;
  /** adopted: took it; current: held it already; newer: holds a newer epoch; conflict: holds a different ring of the same epoch; failed: unreachable or refused. */
  outcome: 'adopted' | 'current' | 'newer' | 'conflict' | 'failed';
  /** Epoch the node holds afterwards, when known. */
  epoch?: number;
  error?: string;
}

/** Options of a push. */
export interface PushOptions {
  clusterSecret: string;
  /** Longest wait for one node: a dead node must not stall the others' report. */
  timeoutMs: number;
  /** Keep retrying unreachable nodes until this deadline (cluster bootstrap waits for nodes to start). */
  retryUntilMs?: number;
  /** Refuse to replace a different ring of the same epoch (cluster init on a cluster that has one). */
  onlyIfIdentical?: boolean;
  now?: () => number;
}

/**
 * Offers `ring` to every target (PUT /v1/ring, signed); each node keeps it only if its epoch is
 * newer than the one it holds, so pushing is idempotent and pushes may race. Before offering, it
 * asks each node which ring it holds, so an identical ring is reported as current and a different
 * ring of the same epoch as a conflict rather than silently ignored.
 */
export async function pushRing(ring: Ring, targets: readonly PushTarget[], options: PushOptions): Promise<PushResult[]> {
  const now = options.now ?? Date.now;
  const ours = serializeRing(ring);
  // Encoded once: a ring of thousands of nodes is tens of megabytes, gzipped to a fifth.
  const offer = await encodeRingOffer(ours);
  return Promise.all(
    targets.map(async (target): Promise<PushResult> => {
      const client = new NodeClient({
        nodeId: target.id,
        idUnknown: target.idUnknown === true,
        address: target.address,
        clusterSecret: options.clusterSecret,
        connections: 1,
        headersTimeoutMs: options.timeoutMs,
      });
      try {
        for (;;) {
          try {
            return await pushOne(client, ring, ours, offer, target, options);
          } catch (err) {
            const message = err instanceof Error ? err.message : String(err);
            if (options.retryUntilMs === undefined || now() + 1_000 > options.retryUntilMs || (err as { code?: unknown }).code === 'Unauthorized') {
              return { target, outcome: 'failed', error: message };
            }
            await new Promise((resolve) => setTimeout(resolve, 1_000));
          }
        }
      } finally {
        await client.close();
      }
    }),
  );
}

async function pushOne(client: NodeClient, ring: Ring, ours: string, offer: RingOffer, target: PushTarget, options: PushOptions): Promise<PushResult> {
  const signal = (): AbortSignal => AbortSignal.timeout(options.timeoutMs);
  // The epoch the node reports settles most pushes. Its ring is read only when it has the same epoch, to
  // tell the same ring from a different one: a ring of thousands of nodes is tens of megabytes.
  const heldEpoch = (await client.health({ signal: signal() })).ringEpoch;
  if (heldEpoch > ring.epoch) return { target, outcome: 'newer', epoch: heldEpoch };
  if (heldEpoch === ring.epoch) {
    const heldDocument = await client.fetchRing({ signal: signal() });
    const held = heldDocument === null ? undefined : parseRing(heldDocument);
    if (held !== undefined && held.epoch > ring.epoch) return { target, outcome: 'newer', epoch: held.epoch };
    if (held !== undefined && held.epoch === ring.epoch) {
      return serializeRing(held) === ours ? { target, outcome: 'current', epoch: held.epoch } : { target, outcome: 'conflict', epoch: held.epoch };
    }
  }
  if (heldEpoch > 0 && options.onlyIfIdentical === true) return { target, outcome: 'conflict', epoch: heldEpoch };
  const answer = await client.offerEncodedRing(offer, { signal: signal() });
  return { target, outcome: answer.adopted ? 'adopted' : answer.epoch > ring.epoch ? 'newer' : 'current', epoch: answer.epoch };
}

/** The newest ring any of `addresses` holds (to learn the members a new epoch drops), or undefined. */
export async function newestHeldRing(addresses: readonly string[], clusterSecret: string, timeoutMs: number): Promise<Ring | undefined> {
  let newest: Ring | undefined;
  await Promise.all(
    addresses.map(async (address) => {
      const client = new NodeClient({ nodeId: address, idUnknown: true, address, clusterSecret, connections: 1, headersTimeoutMs: timeoutMs });
      try {
        const document = await client.fetchRing({ signal: AbortSignal.timeout(timeoutMs) });
        const ring = document === null ? undefined : parseRing(document);
        if (ring !== undefined && (newest === undefined || ring.epoch > newest.epoch)) newest = ring;
      } catch {
        // The push itself reports unreachable nodes.
      } finally {
        await client.close();
      }
    }),
  );
  return newest;
}

/** One line per node, for the operator. */
export function describePush(ring: Ring, results: readonly PushResult[]): string {
  const lines = results.map(({ target, outcome, epoch, error }) => {
    const who = `${target.id === target.address ? target.address : `${target.id} (${target.address})`}${target.member ? '' : ' [not in this ring]'}`;
    switch (outcome) {
      case 'adopted':
        return `${who}: adopted epoch ${ring.epoch}`;
      case 'current':
        return `${who}: already holds epoch ${ring.epoch}`;
      case 'newer':
        return `${who}: holds a newer epoch ${String(epoch)}; kept it`;
      case 'conflict':
        return `${who}: holds a different ring of epoch ${String(epoch)}`;
      case 'failed':
        return `${who}: failed: ${error ?? 'unknown error'}`;
    }
  });
  return `${lines.join('\n')}\n`;
}
