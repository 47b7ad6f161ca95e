import type { Dispatcher } from 'undici';
import { errors as undiciErrors } from 'undici';
import { TesseraError } from '../common/index.js';

/** A node's answer read whole: its status and body bytes. */
export interface BufferedResponse {
  statusCode: number;
  body: Buffer;
  /** Its Content-Encoding, when it named one. */
  contentEncoding: string | undefined;
}

/** An answer longer than the caller takes. */
export class AnswerTooLargeError extends TesseraError<'AnswerTooLarge'> {
  override readonly name = 'AnswerTooLargeError';
}

/**
 * One request whose answer is read whole into memory, through undici's dispatch with a handler that
 * gathers the body. `pool.request` wraps every answer in a Readable and an async resource, which a
 * profile of small requests showed costing more than the JSON it carried. Fails as `pool.request`
 * does: with the signal's reason once it aborts, with undici's errors otherwise; `onResponseStart` is
 * told when the status line arrives (the node's latency, before its body). An answer whose body runs
 * past `maxBodyBytes` is cut off and fails with AnswerTooLargeError.
 */
export function bufferedRequest(
  dispatcher: Dispatcher,
  options: Dispatcher.DispatchOptions,
  signal: AbortSignal | undefined,
  onResponseStart: () => void,
  maxBodyBytes = Number.POSITIVE_INFINITY,
): Promise<BufferedResponse> {
  return new Promise<BufferedResponse>((resolve, reject) => {
    if (signal?.aborted === true) {
      reject(signal.reason ?? new undiciErrors.RequestAbortedError());
      return;
    }
    let controller: Dispatcher.DispatchController | undefined;
    let statusCode = 0;
    let contentEncoding: string | undefined;
    let bodyBytes = 0;
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
      else resolve({ statusCode, contentEncoding, body: chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks) });
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    dispatcher.dispatch(options, {
      onRequestStart(started) {
        controller = started;
        if (signal?.aborted === true) started.abort((signal.reason as Error | undefined) ?? new undiciErrors.RequestAbortedError());
      },
      onResponseStart(_controller, status, headers) {
        statusCode = status;
        const encoding = headers['content-encoding'];
        if (typeof encoding === 'string') contentEncoding = encoding;
        onResponseStart();
      },
      onResponseData(responding, chunk) {
        bodyBytes += chunk.length;
        if (bodyBytes > maxBodyBytes) {
          chunks.length = 0;
          responding.abort(new AnswerTooLargeError('AnswerTooLarge', `answer longer than ${maxBodyBytes} bytes`));
          return;
        }
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
