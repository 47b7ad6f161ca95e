/**
 * A linearizability checker in the manner of Porcupine (Wing & Gong's search with Lowe's memoization
 * of (linearized set, state) pairs), for histories recorded by tests. An operation whose outcome is
 * unknown (the client saw a timeout or a 5xx) is given a return time of +Infinity: it may take
 * effect at any point after its call, including never observably (after every other operation).
 */

/** A sequential specification: from a state, does `input` answering `output` fit, and where does it lead. */
export interface Model<S, I, O> {
  init: S;
  step(state: S, input: I, output: O): { ok: boolean; next: S };
  /** A string that is equal for equal states (memoization key). */
  key(state: S): string;
}

/** One recorded operation: when it was invoked and when its answer came back (ms, any monotonic clock). */
export interface Operation<I, O> {
  client: number;
  input: I;
  output: O;
  callMs: number;
  /** +Infinity when the outcome is unknown. */
  returnMs: number;
}

interface Entry {
  id: number;
  isCall: boolean;
  timeMs: number;
  match: Entry | undefined;
  prev: Entry | undefined;
  next: Entry | undefined;
}

/** Whether the history has a linearization under `model`. Histories of independent keys should be checked one key at a time. */
export function isLinearizable<S, I, O>(model: Model<S, I, O>, history: readonly Operation<I, O>[]): boolean {
  const events: { id: number; isCall: boolean; timeMs: number }[] = [];
  history.forEach((op, id) => {
    events.push({ id, isCall: true, timeMs: op.callMs }, { id, isCall: false, timeMs: op.returnMs });
  });
  // At equal times a call sorts first: the two operations count as concurrent, the permissive reading.
  events.sort((a, b) => a.timeMs - b.timeMs || (a.isCall === b.isCall ? 0 : a.isCall ? -1 : 1));
  const head: Entry = { id: -1, isCall: false, timeMs: -Infinity, match: undefined, prev: undefined, next: undefined };
  let last = head;
  const calls = new Map<number, Entry>();
  for (const event of events) {
    const entry: Entry = { ...event, match: undefined, prev: last, next: undefined };
    last.next = entry;
    last = entry;
    if (event.isCall) calls.set(event.id, entry);
    else (calls.get(event.id) as Entry).match = entry;
  }
  const lift = (entry: Entry): void => {
    (entry.prev as Entry).next = entry.next;
    if (entry.next !== undefined) entry.next.prev = entry.prev;
    const match = entry.match as Entry;
    (match.prev as Entry).next = match.next;
    if (match.next !== undefined) match.next.prev = match.prev;
  };
  const unlift = (entry: Entry): void => {
    const match = entry.match as Entry;
    (match.prev as Entry).next = match;
    if (match.next !== undefined) match.next.prev = match;
    (entry.prev as Entry).next = entry;
    if (entry.next !== undefined) entry.next.prev = entry;
  };
  const linearized = new Uint8Array(history.length);
  const seen = new Set<string>();
  const stack: { entry: Entry; state: S }[] = [];
  let state = model.init;
  let entry = head.next;
  while (head.next !== undefined) {
    if (entry === undefined) return false;
    if (entry.isCall) {
      const op = history[entry.id] as Operation<I, O>;
      const { ok, next } = model.step(state, op.input, op.output);
      if (ok) {
        linearized[entry.id] = 1;
        const memo = `${Buffer.from(linearized).toString('base64')}|${model.key(next)}`;
        if (!seen.has(memo)) {
          seen.add(memo);
          stack.push({ entry, state });
          state = next;
          lift(entry);
          entry = head.next;
          continue;
        }
        linearized[entry.id] = 0;
      }
      entry = entry.next;
    } else {
      // A return reached before its call was linearized: undo the last choice and try the next one.
      const top = stack.pop();
      if (top === undefined) return false;
      state = top.state;
      linearized[top.entry.id] = 0;
      unlift(top.entry);
      entry = top.entry.next;
    }
  }
  return true;
}

/** What an S3 client did to one key, and what it saw. Values are the bodies written (unique per write). */
export type RegisterInput =
  | { op: 'put'; value: string }
  | { op: 'put-if-match'; expected: string; value: string }
  | { op: 'put-if-absent'; value: string }
  | { op: 'delete' }
  | { op: 'get' };

/** `value` for a read (null: NoSuchKey); `applied` for a conditional write (false: PreconditionFailed). */
export type RegisterOutput = { value: string | null } | { applied: boolean } | { unknown: true };

/** An S3 object as a register: reads see the last write; conditional writes apply only when their condition holds. */
export const S3_REGISTER: Model<string | null, RegisterInput, RegisterOutput> = {
  init: null,
  key: (state) => (state === null ? '\u0000' : state),
  step(state, input, output) {
    const unknown = 'unknown' in output;
    switch (input.op) {
      case 'get':
        return { ok: unknown || ('value' in output && output.value === state), next: state };
      case 'put':
        return { ok: true, next: input.value };
      case 'delete':
        return { ok: true, next: null };
      case 'put-if-match':
      case 'put-if-absent': {
        const holds = input.op === 'put-if-match' ? state === input.expected : state === null;
        // An unknown outcome applied exactly when its condition held (its failed branch changes nothing).
        const applied = unknown ? holds : 'applied' in output && output.applied;
        if (applied !== holds) return { ok: false, next: state };
        return { ok: true, next: holds ? input.value : state };
      }
    }
  },
};
