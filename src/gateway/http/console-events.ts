import { parseDefinedTarget, type DefinedTarget } from '../../events/index.js';
import type { EventTargetFigures } from '../../rpc/index.js';

/** One target's delivery over the whole cluster, as the console shows it. */
export interface TargetDeliveryTotals {
  target: string;
  /** The target's kind (`s3` for a replication target), or null when this gateway holds no definition of it. */
  type: DefinedTarget['type'] | null;
  /** Changes waiting for the target, summed over the nodes that lead them. */
  backlog: number;
  /** Age of the oldest change waiting on any node (0: none waits). */
  oldestSeconds: number;
  delivered: number;
  failures: number;
  dropped: number;
  undeliverable: number;
  /** Nodes that reported the target. */
  nodes: number;
}

/**
 * Sums the nodes' delivery figures per target (the backlog and the counters add up, the oldest age is
 * the largest), sorted by target name, each with its type from the definition `definitionOf` answers.
 */
export function deliveryTotals(reports: readonly (readonly EventTargetFigures[])[], definitionOf: (target: string) => string | undefined): TargetDeliveryTotals[] {
  const totals = new Map<string, TargetDeliveryTotals>();
  for (const report of reports) {
    for (const figures of report) {
      let total = totals.get(figures.target);
      if (total === undefined) {
        total = { target: figures.target, type: typeOf(definitionOf(figures.target)), backlog: 0, oldestSeconds: 0, delivered: 0, failures: 0, dropped: 0, undeliverable: 0, nodes: 0 };
        totals.set(figures.target, total);
      }
      total.backlog += figures.backlog;
      total.oldestSeconds = Math.max(total.oldestSeconds, figures.oldestSeconds);
      total.delivered += figures.delivered;
      total.failures += figures.failures;
      total.dropped += figures.dropped;
      total.undeliverable += figures.undeliverable;
      total.nodes += 1;
    }
  }
  return [...totals.values()].sort((a, b) => (a.target < b.target ? -1 : a.target > b.target ? 1 : 0));
}

/** The kind of a stored definition; null when there is none or it does not read back (a target since removed). */
function typeOf(definition: string | undefined): DefinedTarget['type'] | null {
  if (definition === undefined) return null;
  try {
    return parseDefinedTarget(definition).type;
  } catch {
    return null;
  }
}
