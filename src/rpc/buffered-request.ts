import type { Dispatcher } from 'undici';
import { errors as undiciErrors } from 'undici';

/** A node's answer read whole: its status and body bytes. */
export interface BufferedResponse {
  statusCode: number;
  body: Buffer;
}

/**
 * One request whose answer is read whole into memory, through undici's dispatch with a handler that
 * gathers the body. `pool.request` wraps every answer in a Readable and an async resource, which a
 * profile of small requests showed costing more than the JSON it carried. Fails as `pool.request`
 * does: with the signal's reason once it aborts, with undici's errors otherwise; `onResponseStart` is
 * told when the status line arrives (the node's latency, before its body).
 */
export function bufferedRequest(
  dispatcher: Dispatcher,
  options: Dispatcher.DispatchOptions,
  signal: AbortSignal | undefined,
  onResponseStart: () => void,
): Promise<BufferedResponse> {
  return new Promise<BufferedResponse>((resolve, reject) => {
    if (signal?.aborted === true) {
      reject(signal.reason ?? new undiciErrors.RequestAbortedError());
      return;
    }
    let controller: Dispatcher.DispatchController | undefined;
    let statusCode = 0;
    const chunks: Buffer[] = [];
    let settled = false;
    const onAbort = (): void => {
      const reason = (signal?.reason as Error | undefined) ?? new undiciErrors.RequestAbortedError();
      // Before the request started, undici is told in onRequestStart; after it, the controller ends it and onResponseError settles.
      controller?.abort(reason);
    };
    const settle = (err: Error | null): void => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      if (err !== null) reject(err);
      else resolve({ statusCode, body: chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks) });
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    dispatcher.dispatch(options, {
      onRequestStart(started) {
        controller = started;
        if (signal?.aborted === true) started.abort((signal.reason as Error | undefined) ?? new undiciErrors.RequestAbortedError());
      },
      onResponseStart(_controller, status) {
        statusCode = status;
        onResponseStart();
      },
      onResponseData(_controller, chunk) {
        chunks.push(chunk);
      },
      onResponseEnd() {
        settle(null);
      },
      onResponseError(_controller, err) {
        settle(err);
      },
    });
  });
}
