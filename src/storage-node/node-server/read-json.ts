import type { Readable } from 'node:stream';
import type { FastifyRequest } from 'fastify';
import { BODY_HASH_HEADER, WireError, bodySha256 } from '../../rpc/index.js';

/** Reads a JSON body within the size limit and checks it against its signed hash before parsing it. */
export async function readJson(request: FastifyRequest, payload: Readable, limitBytes: number): Promise<unknown> {
  const body = await readBody(payload, limitBytes);
  if (bodySha256(body) !== request.headers[BODY_HASH_HEADER]) throw new WireError('Unauthorized', 'body hash mismatch');
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    throw new WireError('BadRequest', 'body is not JSON');
  }
}

/**
 * A request body up to `limitBytes`, gathered from its events (an async iterator per request costs more
 * than the small bodies of the node protocol). A body over the limit, or one cut off, fails; the
 * rest of an oversized body is left to the HTTP server, which discards it once the error is answered.
 */
export function readBody(payload: Readable, limitBytes: number): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    const settle = (err: Error | null): void => {
      payload.off('data', onData);
      payload.off('end', onEnd);
      payload.off('error', onError);
      payload.off('close', onClose);
      if (err === null) resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, total));
      else reject(err);
    };
    const onData = (chunk: Buffer): void => {
      total += chunk.length;
      if (total > limitBytes) settle(new WireError('BadRequest', 'body too large'));
      else chunks.push(chunk);
    };
    const onEnd = (): void => settle(null);
    const onError = (err: Error): void => settle(err);
    const onClose = (): void => settle(new WireError('BadRequest', 'request body cut off'));
    payload.on('data', onData);
    payload.once('end', onEnd);
    payload.once('error', onError);
    payload.once('close', onClose);
  });
}
