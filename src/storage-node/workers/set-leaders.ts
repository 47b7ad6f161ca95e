import type { RingNode } from '../../placement/index.js';
import type { PeerClients } from './peer-clients.js';

/** How long a member's answer (or silence) is believed: a leader's loss is seen within seconds, and a page of keys costs no probes. */
export const DEFAULT_PROBE_CACHE_MS = 3_000;
/** Time a member has to answer a probe. */
const PROBE_TIMEOUT_MS = 2_000;

/** Construction parameters of SetLeaders. */
export interface SetLeadersOptions {
  nodeId: string;
  peers: Pick<PeerClients, 'get'>;
  probeCacheMs?: number;
  clock?: () => number;
}

/**
 * Who leads a key's set for a node: the first member, in set order, that answers. A node asks only the
 * members before it (its own place ends the search), each at most once per `probeCacheMs`, sharing a
 * probe in flight; a node outside the set asks every member. Two nodes may disagree for a few seconds
 * (one sees a member answer, the other not): what they lead is delivered at least once either way.
 */
export class SetLeaders {
  private readonly options: SetLeadersOptions;
  private readonly clock: () => number;
  private readonly probes = new Map<string, { atMs: number; answered: Promise<boolean> }>();

  constructor(options: SetLeadersOptions) {
    this.options = options;
    this.clock = options.clock ?? Date.now;
  }

  /** The member that leads `set`, or null when this node does (no member before it answers). */
  async leaderOf(set: readonly RingNode[], signal: AbortSignal): Promise<RingNode | null> {
    for (const member of set) {
      if (member.id === this.options.nodeId) return null;
      if (await this.answers(member, signal)) return member;
    }
    return null;
  }

  /** Forgets what a member last answered: a call to it just failed, so the next question probes it again. */
  forget(member: RingNode): void {
    this.probes.delete(probeKey(member));
  }

  private answers(member: RingNode, signal: AbortSignal): Promise<boolean> {
    const key = probeKey(member);
    const now = this.clock();
    const known = this.probes.get(key);
    if (known !== undefined && now - known.atMs < (this.options.probeCacheMs ?? DEFAULT_PROBE_CACHE_MS)) return known.answered;
    const asked = AbortSignal.any([signal, AbortSignal.timeout(PROBE_TIMEOUT_MS)]);
    const answered = this.options.peers
      .get(member)
      .health({ signal: asked })
      .then(
        () => true,
        () => false,
      );
    this.probes.set(key, { atMs: now, answered });
    return answered;
  }
}

function probeKey(member: RingNode): string {
  return `${member.id}@${member.address}`;
}
