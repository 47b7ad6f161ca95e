import { setMaxListeners } from 'node:events';
import type { MetadataTimeout } from './path-deps.js';

/**
 * What a data-path call needs of the request it serves; a handler passes its RequestContext. `Deps`
 * names the dependencies the call uses (path-deps.ts): the narrowest that covers them.
 */
export interface RequestScope<Deps> {
  /** Aborted when the client goes away. */
  signal: AbortSignal;
  services: Deps;
  /** When the request started (performance.now()): its reads retry slow rounds until a deadline counted from here. */
  startedMs?: number | undefined;
}

/** The reason of every timed-out round: one shared object, so a timer that fires costs no stack capture. */
const TIMED_OUT = new DOMException('The operation was aborted due to timeout', 'TimeoutError');

/**
 * `signal` plus a timeout; one listener per node request may be added, so the listener cap is lifted.
 * Built from one controller and one unreferenced timer rather than AbortSignal.any + AbortSignal.timeout:
 * a profile of small requests showed those (signal bookkeeping for the garbage collector, and a
 * DOMException with a stack trace created when each timer fires, long after its round ended) at about
 * 5% of the gateway thread. The reason on timeout is a TimeoutError, as AbortSignal.timeout gives.
 */
export function withTimeout(signal: AbortSignal | undefined, timeoutMs: number): AbortSignal {
  const controller = new AbortController();
  const combined = controller.signal;
  setMaxListeners(0, combined);
  if (signal?.aborted === true) {
    controller.abort(signal.reason);
    return combined;
  }
  const onAbort = (): void => {
    clearTimeout(timer);
    controller.abort(signal?.reason);
  };
  const timer = setTimeout(() => {
    signal?.removeEventListener('abort', onAbort);
    controller.abort(TIMED_OUT);
  }, timeoutMs);
  timer.unref();
  signal?.addEventListener('abort', onAbort, { once: true });
  return combined;
}

/** A signal for one metadata round: the client's signal plus the metadata timeout. */
export function metadataSignal(ctx: RequestScope<MetadataTimeout>): AbortSignal {
  return withTimeout(ctx.signal, ctx.services.metadataTimeoutMs);
}
