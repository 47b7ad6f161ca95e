import type { Readable } from 'node:stream';
import type { FastifyRequest } from 'fastify';
import { BODY_HASH_HEADER, WireError, bodySha256, gunzipRingDocument } from '../../rpc/index.js';

/** How a route's JSON body may come: its size limit, and whether it may be gzipped. */
export interface JsonBodyRules {
  /** The most the JSON text may be, and (gzipped) the most the compressed body may be. */
  limitBytes: number;
  /** `Content-Encoding: gzip` is taken (a ring document); otherwise any encoding but identity is refused. */
  gzip: boolean;
}

/**
 * Reads a JSON body within the size limit and checks it against its signed hash (of the bytes as sent)
 * before inflating or parsing it, so nothing an unsigned sender sends is inflated.
 */
export async function readJson(request: FastifyRequest, payload: Readable, rules: JsonBodyRules): Promise<unknown> {
  const encoding = request.headers['content-encoding'];
  const gzipped = encoding === 'gzip';
  if (encoding !== undefined && encoding !== 'identity' && !(gzipped && rules.gzip)) {
    throw new WireError('BadRequest', `content-encoding ${JSON.stringify(encoding)} is not taken here`);
  }
  const body = await readBody(payload, rules.limitBytes);
  if (bodySha256(body) !== request.headers[BODY_HASH_HEADER]) throw new WireError('Unauthorized', 'body hash mismatch');
  const text = gzipped ? await gunzipRingDocument(body, rules.limitBytes) : body.toString('utf8');
  try {
    return JSON.parse(text);
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
