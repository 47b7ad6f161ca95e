import type { EventTargetFigures } from '../../rpc/index.js';

/** One target's counters since the node started, and its backlog as the last delivery pass found it. */
interface TargetCounters {
  delivered: number;
  failures: number;
  dropped: number;
  undeliverable: number;
  backlog: number;
  /** When the oldest change still waiting for the target was logged; null when none waits. */
  oldestMs: number | null;
}

/** Most targets whose figures a node keeps: names come from targets an operator defined, so this is only a guard. */
const MAX_TARGETS = 1_000;

/**
 * The change delivery's figures per target: messages accepted, failed publishes, changes dropped past
 * the backlog limit, destinations skipped because their target is gone, and the backlog with its
 * oldest entry. Read by `tessera admin status` and the node's metrics.
 */
export class DeliveryFigures {
  private readonly targets = new Map<string, TargetCounters>();
  /** The backlog being counted by the pass under way, per target. */
  private counting = new Map<string, { count: number; oldestMs: number }>();

  /** A message the target accepted. */
  delivered(target: string): void {
    const counters = this.of(target);
    if (counters !== undefined) counters.delivered += 1;
  }

  /** A publish the target failed (it is retried). */
  failed(target: string): void {
    const counters = this.of(target);
    if (counters !== undefined) counters.failures += 1;
  }

  /** A change dropped for the target, past its backlog limit. */
  dropped(target: string): void {
    const counters = this.of(target);
    if (counters !== undefined) counters.dropped += 1;
  }

  /** A destination skipped because its target no longer exists. */
  undeliverable(target: string): void {
    const counters = this.of(target);
    if (counters !== undefined) counters.undeliverable += 1;
  }

  /** A change the pass under way left waiting for the target, logged at `loggedMs`. */
  waiting(target: string, loggedMs: number): void {
    const held = this.counting.get(target);
    if (held === undefined) {
      if (this.counting.size < MAX_TARGETS) this.counting.set(target, { count: 1, oldestMs: loggedMs });
      return;
    }
    held.count += 1;
    held.oldestMs = Math.min(held.oldestMs, loggedMs);
  }

  /** Ends a pass: its counts become the backlog; answers them, per target. */
  passEnded(): ReadonlyMap<string, number> {
    const counted = this.counting;
    this.counting = new Map();
    for (const counters of this.targets.values()) {
      counters.backlog = 0;
      counters.oldestMs = null;
    }
    for (const [target, found] of counted) {
      const counters = this.of(target);
      if (counters === undefined) continue;
      counters.backlog = found.count;
      counters.oldestMs = found.oldestMs;
    }
    return new Map([...counted].map(([target, found]) => [target, found.count]));
  }

  /** Every target's figures, by name. */
  snapshot(nowMs: number): EventTargetFigures[] {
    return [...this.targets]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([target, c]) => ({
        target,
        backlog: c.backlog,
        oldestSeconds: c.oldestMs === null ? 0 : Math.max(0, (nowMs - c.oldestMs) / 1000),
        delivered: c.delivered,
        failures: c.failures,
        dropped: c.dropped,
        undeliverable: c.undeliverable,
      }));
  }

  private of(target: string): TargetCounters | undefined {
    let counters = this.targets.get(target);
    if (counters === undefined) {
      if (this.targets.size >= MAX_TARGETS) return undefined;
      counters = { delivered: 0, failures: 0, dropped: 0, undeliverable: 0, backlog: 0, oldestMs: null };
      this.targets.set(target, counters);
    }
    return counters;
  }
}
