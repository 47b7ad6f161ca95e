import { finished, type Readable, type Writable } from 'node:stream';
import { createBodyDecoder, type AuthRequest, type BodyDecoder, type BodyDecoderOptions } from '../auth/index.js';
import { S3Error } from '../s3/index.js';
import type { RequestContext } from './request-context.js';
import { watchBodyRate } from './slow-body.js';
import type { BodyDigests } from '../data-path/index.js';

/**
 * The request body as verified, unframed bytes: aws-chunked framing removed, signatures, payload hash
 * and checksums checked by the decoder before it ends. The returned promise settles when the
 * pipeline does; callers must await it (it carries transport errors).
 */
export function decodedBody(
  ctx: RequestContext<BodyDigests>,
  options: BodyDecoderOptions & { headers?: AuthRequest['headers'] } = {},
): { decoder: BodyDecoder; done: Promise<void> } {
  // Creating the decoder checks the digest and checksum headers; a malformed one fails before 100 Continue.
  const { headers = ctx.request.headers, ...decoderOptions } = options;
  const decoder = createBodyDecoder(ctx.auth, headers, { digestPool: ctx.services.digestPool, budget: ctx.bodyBudget, ...decoderOptions });
  if (ctx.request.headers.expect?.toLowerCase() === '100-continue' && !ctx.reply.raw.headersSent) {
    // The request passed authentication and its handler's checks: now the client may send the body.
    ctx.reply.raw.writeContinue();
  }
  const stopWatching = ctx.slowClients === undefined ? undefined : watchBodyRate(ctx.request.raw, ctx.slowClients);
  const done = pipeInto(ctx.request.raw, decoder);
  if (stopWatching !== undefined) done.then(stopWatching, stopWatching);
  // The consumer sees the same error through the decoder; this only keeps it from being unhandled.
  done.catch(() => undefined);
  // A handler that failed before reading the body to its end leaves the decoder holding bytes, and their
  // room in the byte budget, that nobody will take: once the answer is out, they go.
  ctx.reply.raw.once('close', () => {
    if (!decoder.readableEnded) decoder.destroy();
  });
  return { decoder, done };
}

/**
 * `stream.pipeline(source, sink)` for one readable into one writable: the sink is ended when the source
 * ends; an error or early close of either destroys the other (unless it already finished) and rejects;
 * the promise settles once both have. stream.pipeline also builds an AbortController per call and
 * aborts it when done, which on Node 20 constructs a DOMException with its stack: a profile of 4 KiB
 * PUTs found that at about 2% of the gateway's thread.
 */
export function pipeInto(source: Readable, sink: Writable): Promise<void> {
  return new Promise((resolve, reject) => {
    let failure: Error | undefined;
    let sourceDone = false;
    let sinkDone = false;
    const fail = (err: Error): void => {
      failure ??= err;
      if (!sourceDone) source.destroy(err);
      if (!sinkDone) sink.destroy(err);
    };
    const settle = (): void => {
      if (!sourceDone || !sinkDone) return;
      if (failure === undefined) resolve();
      else reject(failure);
    };
    finished(source, { readable: true, writable: false }, (err) => {
      sourceDone = true;
      if (err !== undefined && err !== null) fail(err);
      settle();
    });
    finished(sink, { readable: false, writable: true }, (err) => {
      sinkDone = true;
      if (err !== undefined && err !== null) fail(err);
      settle();
    });
    source.pipe(sink);
  });
}

/**
 * Reads a small verified body (XML documents) up to `limitBytes`. `headers` replaces the request's
 * headers for the body checks, for requests whose checksum headers describe something else
 * (CompleteMultipartUpload's name the whole object).
 */
export async function readSmallBody(ctx: RequestContext<BodyDigests>, limitBytes: number, headers?: AuthRequest['headers']): Promise<Buffer> {
  const { decoder, done } = decodedBody(ctx, headers === undefined ? {} : { headers });
  const chunks: Buffer[] = [];
  let total = 0;
  let takenBytes = 0;
  try {
    for await (const chunk of decoder) {
      total += (chunk as Buffer).length;
      if (total > limitBytes) {
        decoder.destroy();
        throw new S3Error('MalformedXML', { message: 'The XML you provided was too large.' });
      }
      try {
        ctx.bodyBudget?.take((chunk as Buffer).length);
      } catch (err) {
        decoder.destroy();
        throw err;
      }
      takenBytes += (chunk as Buffer).length;
      chunks.push(chunk as Buffer);
    }
    await done;
    return Buffer.concat(chunks, total);
  } finally {
    // The caller parses the body at once; the budget bounds bodies being read at the same time.
    ctx.bodyBudget?.give(takenBytes);
  }
}

/**
 * Reads a small body that no S3 body check covers (the console's sign-in form, the admin API's JSON):
 * at most `maxBytes`, refused with `tooLarge()` past that, and cut off (the connection destroyed) when
 * it has not all arrived within `deadlineMs`, so a client cannot hold a socket open by trickling it in.
 */
export async function readBoundedBody(raw: Readable, limits: { maxBytes: number; deadlineMs: number; tooLarge: () => Error }): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  const timer = setTimeout(() => raw.destroy(new Error('request body too slow')), limits.deadlineMs);
  try {
    for await (const chunk of raw) {
      size += (chunk as Buffer).length;
      if (size > limits.maxBytes) throw limits.tooLarge();
      chunks.push(chunk as Buffer);
    }
  } finally {
    clearTimeout(timer);
  }
  return Buffer.concat(chunks, size);
}
