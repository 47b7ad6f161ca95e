import type { ServerResponse } from 'node:http';
import { TurnQueue } from '../../common/index.js';
import { S3Error } from '../s3/index.js';

/** How many S3 requests a gateway serves at once, and how many more may wait their turn. */
export interface RequestGateLimits {
  maxActive: number;
  maxQueued: number;
  /** What a refused client is told to wait before retrying (the Retry-After header). */
  retryAfterSeconds: number;
}

/**
 * Admission control: at most `maxActive` requests are served at once; the next `maxQueued` wait in
 * arrival order (their bodies unread, so TCP holds their senders back); only past that is a request
 * refused, with 503 SlowDown and Retry-After, which SDKs retry. A busy gateway so queues work at its
 * front door rather than letting every request start and then run out of time inside the node calls.
 */
export class RequestGate {
  private readonly turns: TurnQueue;

  constructor(limits: RequestGateLimits) {
    this.turns = new TurnQueue({
      maxActive: limits.maxActive,
      maxQueued: limits.maxQueued,
      refusal: () =>
        new S3Error('SlowDown', {
          message: 'The gateway is serving as many requests as it can; please retry.',
          headers: { 'retry-after': String(limits.retryAfterSeconds) },
        }),
    });
  }

  /** Requests being served now. */
  get active(): number {
    return this.turns.active;
  }

  /** Requests waiting for a turn. */
  get queued(): number {
    return this.turns.queued;
  }

  /**
   * Waits for a turn and resolves with the function that gives it back (idempotent). Rejects with
   * SlowDown when the queue is full, or with the signal's reason when the client leaves while waiting.
   */
  enter(signal: AbortSignal): Promise<() => void> {
    return this.turns.enter(signal);
  }
}

/**
 * Waits for a turn for one response and holds it until the response closes, sent or cut off (a GET
 * streams on after its handler returns). Without `signal`, a client that leaves while waiting gives its
 * place up when its response closes.
 */
export async function holdTurn(gate: RequestGate, response: ServerResponse, signal: AbortSignal = closedSignal(response)): Promise<void> {
  const release = await gate.enter(signal);
  if (response.closed) release();
  else response.once('close', release);
}

function closedSignal(response: ServerResponse): AbortSignal {
  const left = new AbortController();
  response.once('close', () => left.abort(new Error('client disconnected')));
  return left.signal;
}
