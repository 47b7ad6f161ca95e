import type { IncomingMessage } from 'node:http';
import { S3Error } from '../s3/index.js';

/** How slowly a client may send: every `windowMs` of its body must bring at least `minBytes`. */
export interface SlowClientLimits {
  windowMs: number;
  minBytes: number;
}

/**
 * Cuts off a request whose body trickles (slowloris): once its body is being read, each window must
 * bring `minBytes`, or the request is destroyed with RequestTimeout and its connection closed. A
 * window in which the gateway itself is not taking the body (the request paused, its buffer full:
 * backpressure from slow nodes) does not count against the client. One timer per request, not per
 * chunk; returns the function that stops watching (also stopped by the body's end).
 */
export function watchBodyRate(request: IncomingMessage, limits: SlowClientLimits): () => void {
  const socket = request.socket;
  let lastBytes = socket.bytesRead;
  const timer = setInterval(() => {
    if (request.complete || request.destroyed) {
      clearInterval(timer);
      return;
    }
    const bytes = socket.bytesRead;
    const progress = bytes - lastBytes;
    lastBytes = bytes;
    const heldBack = request.isPaused() || request.readableLength >= request.readableHighWaterMark;
    if (heldBack || progress >= limits.minBytes) return;
    clearInterval(timer);
    request.destroy(
      new S3Error('RequestTimeout', { message: `The request body arrived slower than ${limits.minBytes} bytes per ${limits.windowMs} ms.` }),
    );
  }, limits.windowMs);
  timer.unref();
  return () => clearInterval(timer);
}
