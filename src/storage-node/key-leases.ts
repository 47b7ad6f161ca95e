import { isNewerVersion } from '../rpc/index.js';

/**
 * Short leases on single keys, held in memory by each node of a key's set: a gateway holds one once a
 * majority of the set granted it (gateway/data-path/key-lease.ts). A conditional write holds the
 * key's exclusive lease around its last check and commit; a plain write holds a shared one from its
 * prepare to its commit. Any two majorities share a node, so a conditional write's check and commit
 * never overlap a plain write's version id and commit: either the plain write committed before the
 * conditional one was granted (and its check sees it: an exclusive grant reports the node's current
 * record), or it was granted after the conditional write gave its lease back, and then its version id
 * follows the conditional write's (a shared grant reports the `fence` the release left behind).
 *
 * A lease expires by itself, so a gateway that dies holding one blocks the key for at most its time
 * to live; a node restart forgets every lease, which the majority rule survives while the holder keeps
 * a majority of the others. An exclusive request refused because plain writes hold the key keeps new
 * shared grants away for a moment, so a stream of plain writes cannot starve a conditional one.
 */
export class KeyLeases {
  private readonly keys = new Map<string, KeyState>();
  private readonly clock: () => number;

  constructor(clock: () => number = Date.now) {
    this.clock = clock;
  }

  /** Takes (or renews, with the same token) the exclusive lease on bucket/key; false while another token holds any lease on it. */
  acquire(bucket: string, key: string, token: string, ttlMs: number): boolean {
    const now = this.clock();
    const state = this.stateOf(bucket, key, now);
    if (state.exclusive !== undefined && state.exclusive.token !== token) return false;
    if ([...state.shared.keys()].some((holder) => holder !== token)) {
      state.wanted = { token, untilMs: now + EXCLUSIVE_WANTED_MS };
      return false;
    }
    state.exclusive = { token, expiresMs: now + ttlMs };
    if (state.wanted?.token === token) state.wanted = undefined;
    this.prune(now);
    return true;
  }

  /**
   * Takes (or renews) a shared lease on bucket/key: refused while a conditional write holds the key or
   * has just asked for it. Answers the key's fence when it has one.
   */
  acquireShared(bucket: string, key: string, token: string, ttlMs: number): { granted: boolean; fence?: string } {
    const now = this.clock();
    const state = this.stateOf(bucket, key, now);
    const fence = state.fence === undefined ? {} : { fence: state.fence.versionId };
    if (state.exclusive !== undefined && state.exclusive.token !== token) return { granted: false, ...fence };
    if (state.wanted !== undefined && state.wanted.token !== token) return { granted: false, ...fence };
    state.shared.set(token, now + ttlMs);
    this.prune(now);
    return { granted: true, ...fence };
  }

  /**
   * Gives back whatever lease `token` holds on bucket/key. `fence`, with an exclusive lease: the version
   * id its conditional write committed, which every plain write granted from now on must follow.
   */
  release(bucket: string, key: string, token: string, fence?: string): void {
    const name = nameOf(bucket, key);
    const state = this.keys.get(name);
    if (state === undefined) return;
    const now = this.clock();
    if (state.exclusive?.token === token) {
      state.exclusive = undefined;
      if (fence !== undefined && (state.fence === undefined || isNewerVersion(fence, state.fence.versionId))) state.fence = { versionId: fence, expiresMs: now + FENCE_TTL_MS };
    }
    state.shared.delete(token);
    // A claim (`wanted`) is not given back with a round that won no majority: the conditional write
    // tries again, and its claim must keep plain writes away meanwhile. The release after its commit
    // (with a fence) ends it; otherwise it lapses by itself.
    if (fence !== undefined && state.wanted?.token === token) state.wanted = undefined;
    if (state.exclusive === undefined && state.shared.size === 0 && state.wanted === undefined && state.fence === undefined) this.keys.delete(name);
  }

  /** Whether any lease on bucket/key is held now (for tests and tools). */
  held(bucket: string, key: string): { exclusive: boolean; shared: number } {
    const state = this.stateOf(bucket, key, this.clock());
    return { exclusive: state.exclusive !== undefined, shared: state.shared.size };
  }

  /** The key's state with everything expired dropped. */
  private stateOf(bucket: string, key: string, now: number): KeyState {
    const name = nameOf(bucket, key);
    let state = this.keys.get(name);
    if (state === undefined) {
      state = { shared: new Map() };
      this.keys.set(name, state);
    }
    expire(state, now);
    return state;
  }

  /** Keys nobody touches again must not pile up: past a bound, states with nothing live are dropped. */
  private prune(now: number): void {
    if (this.keys.size <= MAX_IDLE_KEYS) return;
    for (const [name, state] of this.keys) {
      expire(state, now);
      if (state.exclusive === undefined && state.shared.size === 0 && state.wanted === undefined && state.fence === undefined) this.keys.delete(name);
    }
  }
}

interface KeyState {
  exclusive?: { token: string; expiresMs: number } | undefined;
  /** token -> expiry of each plain write's shared lease. */
  shared: Map<string, number>;
  /** A conditional write refused for plain writes' leases, and until when it keeps new ones away. */
  wanted?: { token: string; untilMs: number } | undefined;
  /** The newest version id a conditional write committed under this key's exclusive lease here. */
  fence?: { versionId: string; expiresMs: number } | undefined;
}

/**
 * How long a refused conditional write keeps new plain writes from taking a shared lease: longer than
 * its pause between rounds, short enough that one that gave up soon stops mattering.
 */
const EXCLUSIVE_WANTED_MS = 1_000;
/**
 * How long a fence is kept: a plain write granted later takes its version id from a clock that has
 * observed it; past this, clocks have moved on far beyond it anyway.
 */
const FENCE_TTL_MS = 120_000;
/** Key states kept before idle ones are dropped. */
const MAX_IDLE_KEYS = 10_000;

function nameOf(bucket: string, key: string): string {
  return `${bucket}\0${key}`;
}

function expire(state: KeyState, now: number): void {
  if (state.exclusive !== undefined && state.exclusive.expiresMs <= now) state.exclusive = undefined;
  for (const [token, expiresMs] of state.shared) if (expiresMs <= now) state.shared.delete(token);
  if (state.wanted !== undefined && state.wanted.untilMs <= now) state.wanted = undefined;
  if (state.fence !== undefined && state.fence.expiresMs <= now) state.fence = undefined;
}
