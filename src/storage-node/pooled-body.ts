import type { ServerResponse } from 'node:http';
import type { ReadBufferPool } from './read-buffer-pool.js';

/**
 * Sends a shard's chunks as a 200 response, each chunk retained in `pool` until the socket is done
 * with it (its write's callback), so the reader may reuse the buffer once every chunk in it is sent.
 * `first` is the chunk the caller read before committing to a 200 (undefined for an empty range),
 * `rest` the generator it came from. Waits for the socket to drain whenever it is full, and stops
 * reading when the peer goes away. A read that fails once the status is sent can only cut the
 * response off: the peer sees a body shorter than its length.
 */
export async function sendPooledBody(
  res: ServerResponse,
  sizeBytes: number,
  first: Buffer | undefined,
  rest: AsyncGenerator<Buffer>,
  pool: ReadBufferPool,
  onError: (err: unknown) => void,
): Promise<void> {
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': sizeBytes });
  /** Whether the response can take more now; false when it is full or gone. */
  const send = (chunk: Buffer): boolean => {
    pool.retain(chunk);
    // Called once the socket has taken the bytes, or with an error when it is destroyed first. A
    // write to a socket already destroyed never calls back: that buffer is left to the collector.
    return res.write(chunk, () => pool.release(chunk));
  };
  try {
    if (first !== undefined && !send(first)) await drained(res);
    for await (const chunk of rest) {
      if (res.destroyed) break;
      if (!send(chunk)) await drained(res);
    }
    if (!res.destroyed) res.end();
  } catch (err) {
    onError(err);
    res.destroy(err instanceof Error ? err : new Error(String(err)));
  }
}

/** Resolves when the response can take more, or is closed. */
function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}
