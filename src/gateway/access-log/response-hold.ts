import type { ServerResponse } from 'node:http';

/** How a response went, at the moment it was about to end (or was closed without ending). */
export interface ResponseOutcome {
  /** Body bytes the handler wrote (headers not counted). */
  bodyBytes: number;
  /** performance.now() of the first body byte or of the end, whichever came first. */
  firstByteMs: number | undefined;
  /** performance.now() when the response was ended. */
  endMs: number;
  /** False: the response was closed (an error after its headers, a client gone) without ending. */
  ended: boolean;
}

/** What to do with the held end: send it, or cut the connection (the record could not be kept). */
export type HoldVerdict = 'release' | 'cut';

type WriteArgs = Parameters<ServerResponse['write']>;
type Chunk = string | Uint8Array;

/**
 * Holds back the end of `res` until `onEnd` has settled: the last body chunk (at most one chunk,
 * whatever the body's size) and the end itself wait, so a client cannot see a complete response
 * before its record is durable, whether the body was sent at once or streamed with a
 * Content-Length. `onEnd` runs once: at `end()`, or at `close` for a response that never ended
 * (then nothing is held).
 */
export function holdResponseEnd(res: ServerResponse, onEnd: (outcome: ResponseOutcome) => Promise<HoldVerdict>): void {
  const write = res.write;
  const end = res.end;
  let bodyBytes = 0;
  let firstByteMs: number | undefined;
  let held: WriteArgs | undefined;
  let reported = false;

  res.write = function holdingWrite(this: ServerResponse, ...args: WriteArgs): boolean {
    firstByteMs ??= performance.now();
    bodyBytes += sizeOf(args[0] as Chunk, args[1]);
    const previous = held;
    held = args;
    // The chunk before is sent now, so a stream still sees backpressure (one chunk late).
    return previous === undefined ? true : write.apply(this, previous);
  } as ServerResponse['write'];

  res.end = function holdingEnd(this: ServerResponse, ...args: unknown[]): ServerResponse {
    if (reported) return this;
    reported = true;
    const chunk = typeof args[0] === 'function' ? undefined : (args[0] as Chunk | null | undefined);
    if (chunk !== undefined && chunk !== null) bodyBytes += sizeOf(chunk, args[1]);
    const endMs = performance.now();
    firstByteMs ??= endMs;
    // end() has been called, as far as its callers can tell (Fastify's `reply.sent` reads this).
    Object.defineProperty(this, 'writableEnded', { value: true, configurable: true });
    void onEnd({ bodyBytes, firstByteMs, endMs, ended: true }).then(
      (verdict) => finish(this, verdict, args),
      () => finish(this, 'cut', args),
    );
    return this;
  } as ServerResponse['end'];

  res.once('close', () => {
    if (reported) return;
    reported = true;
    void onEnd({ bodyBytes, firstByteMs, endMs: performance.now(), ended: false }).catch(() => undefined);
  });

  function finish(self: ServerResponse, verdict: HoldVerdict, args: unknown[]): void {
    delete (self as { writableEnded?: boolean }).writableEnded;
    if (verdict === 'cut') {
      self.destroy();
      return;
    }
    if (held !== undefined) write.apply(self, held);
    (end as (...a: unknown[]) => ServerResponse).apply(self, args);
  }
}

function sizeOf(chunk: Chunk, encoding: unknown): number {
  if (typeof chunk === 'string') return Buffer.byteLength(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
  return chunk.byteLength;
}
