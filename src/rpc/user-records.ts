import { decideQuorum, fanOutUntil } from './fan-out.js';
import { newestByName } from './newest-record.js';
import type { NodeClient } from './node-client.js';
import type { UserRecord } from './user-record.js';
import { majority } from './quorum-rules.js';
import { WireError } from './wire-errors.js';

/** The nodes a user-record call addresses: every node of the cluster. */
type UserNodes = readonly Pick<NodeClient, 'nodeId' | 'putUser' | 'listUsers'>[];

/**
 * Every user's newest record, removed users included, read from a majority of the nodes: any
 * majority overlaps the one that acknowledged the last write, so the newest record is always seen.
 * Used by the gateway's directory and by `tessera admin user`, so both follow one rule.
 */
export async function readUserRecords(nodes: UserNodes, timeoutMs: number, signal?: AbortSignal): Promise<Map<string, UserRecord>> {
  const needed = majority(nodes.length);
  const callSignal = (): AbortSignal => (signal === undefined ? AbortSignal.timeout(timeoutMs) : AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]));
  const outcomes = await fanOutUntil(
    nodes,
    (node) => node.listUsers({ signal: callSignal() }),
    (sofar) => sofar.filter((o) => o.ok).length >= needed,
  );
  const decision = decideQuorum(outcomes, needed);
  if (!decision.met) throw quorumLost('user read', decision.failures);
  return newestByName(decision.successes.map(({ value }) => value));
}

/** Writes a user record to every node and resolves once a majority holds it. */
export async function writeUserRecord(nodes: UserNodes, record: UserRecord, timeoutMs: number): Promise<void> {
  const needed = majority(nodes.length);
  const outcomes = await fanOutUntil(
    nodes,
    (node) => node.putUser(record, { signal: AbortSignal.timeout(timeoutMs) }),
    (sofar) => sofar.filter((o) => o.ok).length >= needed,
  );
  const decision = decideQuorum(outcomes, needed);
  if (!decision.met) throw quorumLost('user write', decision.failures);
}

function quorumLost(phase: string, failures: readonly { nodeId: string; reason: string }[]): WireError {
  return new WireError('Unavailable', `${phase} quorum not met (${failures.map((f) => `${f.nodeId}: ${f.reason}`).join('; ')})`);
}
