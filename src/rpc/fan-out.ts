import { WireError, type WireErrorCode } from './wire-errors.js';

/** A node a fan-out addresses: a node client names it `nodeId`, a ring member `id`. */
export type FanOutNode = { readonly nodeId: string } | { readonly id: string };

/** One node's outcome in a fan-out. */
export type NodeOutcome<T> = { nodeId: string; ok: true; value: T } | { nodeId: string; ok: false; error: unknown };

/** Whether a fan-out met its quorum, with every node's failure listed for the log. */
export interface QuorumDecision<T> {
  met: boolean;
  successes: { nodeId: string; value: T }[];
  failures: NodeFailure[];
}

/**
 * One node's failure in a fan-out, for the log; `timedOut` when the node did not answer in time (slow,
 * not down); `code` when the node answered with a wire error (what it refused, and why).
 */
export interface NodeFailure {
  nodeId: string;
  reason: string;
  timedOut?: boolean;
  code?: WireErrorCode;
}

/** Pure rule: a fan-out succeeds when at least `needed` nodes succeeded. */
export function decideQuorum<T>(outcomes: readonly NodeOutcome<T>[], needed: number): QuorumDecision<T> {
  const successes: { nodeId: string; value: T }[] = [];
  const failures: NodeFailure[] = [];
  for (const outcome of outcomes) {
    if (outcome.ok) successes.push({ nodeId: outcome.nodeId, value: outcome.value });
    else {
      const { error } = outcome;
      failures.push({
        nodeId: outcome.nodeId,
        reason: describe(error),
        ...(isTimeoutFailure(error) ? { timedOut: true } : {}),
        ...(error instanceof WireError ? { code: error.code } : {}),
      });
    }
  }
  return { met: successes.length >= needed, successes, failures };
}

/** Runs `call` on every node and collects one outcome per node, in the nodes' order, never rejecting. */
export async function fanOut<N extends FanOutNode, T>(nodes: readonly N[], call: (node: N) => Promise<T>): Promise<NodeOutcome<T>[]> {
  return Promise.all(
    nodes.map(async (node): Promise<NodeOutcome<T>> => {
      try {
        return { nodeId: nodeIdOf(node), ok: true, value: await call(node) };
      } catch (error) {
        return { nodeId: nodeIdOf(node), ok: false, error };
      }
    }),
  );
}

/**
 * Like fanOut, but resolves once `enough(outcomes so far)` holds, plus at most `graceMs` for the
 * stragglers (cut short once `complete(outcomes)` holds: nothing more is worth waiting for), without
 * waiting for slow or unreachable nodes; the remaining calls finish in the background and are ignored.
 */
export function fanOutUntil<N extends FanOutNode, T>(
  nodes: readonly N[],
  call: (node: N) => Promise<T>,
  enough: (outcomes: readonly NodeOutcome<T>[]) => boolean,
  graceMs = 0,
  complete?: (outcomes: readonly NodeOutcome<T>[]) => boolean,
): Promise<NodeOutcome<T>[]> {
  // Every node in the first group and none left to hedge with.
  return fanOutHedged(nodes, [], call, { enough, hedgeMs: 0, graceMs, ...(complete === undefined ? {} : { complete }) });
}

/**
 * Like fanOutUntil, but asks the `first` nodes only, and the `rest` once the first cannot settle it:
 * one of them failed, all of them answered without `enough`, or `hedgeMs` passed without `enough` (a
 * slow or hung node). A lookup that the first nodes can answer costs the rest nothing. Once `enough`
 * holds it waits at most `graceMs` for `complete`, as fanOutUntil does.
 */
export function fanOutHedged<N extends FanOutNode, T>(
  first: readonly N[],
  rest: readonly N[],
  call: (node: N) => Promise<T>,
  options: {
    enough: (outcomes: readonly NodeOutcome<T>[]) => boolean;
    hedgeMs: number;
    graceMs?: number;
    complete?: (outcomes: readonly NodeOutcome<T>[]) => boolean;
  },
): Promise<NodeOutcome<T>[]> {
  const { enough, hedgeMs, graceMs = 0, complete } = options;
  return new Promise((resolve) => {
    const outcomes: NodeOutcome<T>[] = [];
    let settled = false;
    let launched = 0;
    let restLaunched = false;
    let graceTimer: NodeJS.Timeout | undefined;
    let hedgeTimer: NodeJS.Timeout | undefined;
    const finish = (): void => {
      if (settled) return;
      settled = true;
      clearTimeout(graceTimer);
      clearTimeout(hedgeTimer);
      resolve([...outcomes]);
    };
    const record = (outcome: NodeOutcome<T>): void => {
      if (settled) return;
      outcomes.push(outcome);
      const allAnswered = outcomes.length === launched;
      if (graceTimer !== undefined) {
        if (allAnswered || complete?.(outcomes) === true) finish();
        return;
      }
      if (enough(outcomes)) {
        if (allAnswered || graceMs <= 0 || complete?.(outcomes) === true) finish();
        else graceTimer = setTimeout(finish, graceMs);
        return;
      }
      if (restLaunched) {
        if (allAnswered) finish();
      } else if (allAnswered || !outcome.ok) {
        launchRest();
      }
    };
    const launch = (node: N): void => {
      launched += 1;
      call(node).then(
        (value) => record({ nodeId: nodeIdOf(node), ok: true, value }),
        (error: unknown) => record({ nodeId: nodeIdOf(node), ok: false, error }),
      );
    };
    const launchRest = (): void => {
      if (restLaunched || settled) return;
      restLaunched = true;
      clearTimeout(hedgeTimer);
      if (rest.length === 0 && outcomes.length === launched) {
        finish();
        return;
      }
      for (const node of rest) launch(node);
    };
    if (first.length === 0) {
      launchRest();
      if (rest.length === 0) finish();
      return;
    }
    for (const node of first) launch(node);
    if (rest.length > 0) {
      hedgeTimer = setTimeout(() => {
        if (graceTimer === undefined) launchRest();
      }, hedgeMs);
    }
  });
}

function nodeIdOf(node: FanOutNode): string {
  return 'nodeId' in node ? node.nodeId : node.id;
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === 'string' ? `${code}: ${error.message}` : error.message;
  }
  return String(error);
}

/**
 * Whether a node call failed because its deadline passed (its signal's timeout, or the pool's headers
 * timeout), as opposed to a node that refused, reset or answered with an error: the node may be alive
 * and only slow. Looks through the causes a NodeError wraps.
 */
export function isTimeoutFailure(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current !== null && typeof current === 'object'; depth += 1) {
    const { name, code } = current as { name?: unknown; code?: unknown };
    if (name === 'TimeoutError' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT') return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}
