import { promisify } from 'node:util';
import { gunzip, gzip } from 'node:zlib';
import { bodySha256 } from './signing.js';
import { WireError } from './wire-errors.js';

const gzipAsync = promisify(gzip);
const gunzipAsync = promisify(gunzip);

/**
 * The largest ring document a node takes or a client reads, uncompressed: 256 MiB. The largest ring
 * the builder is sized for (10,000 nodes, 2^20 partitions, 8+4) is 152 MB of JSON.
 */
export const MAX_RING_DOCUMENT_BYTES = 256 * 1024 * 1024;

/**
 * Ring documents up to this size travel as plain JSON, as they always have, so a node of an earlier
 * release still takes them during an upgrade (1 MiB was its limit on any JSON body); larger ones
 * travel gzipped, a fifth of their size.
 */
export const PLAIN_RING_MAX_BYTES = 1024 * 1024;

/**
 * zlib hands each chunk it makes back to the event loop: at its default 16 KiB, a document of tens of
 * megabytes takes thousands of turns, each waiting on whatever else the loop does.
 */
const ZLIB_CHUNK_BYTES = 1024 * 1024;

/** zlib's default level: an 83 MB 10,000-node ring gzips to a fifth in 2.5 s on two cores; it is done once per push and once per ring a node serves. */
const GZIP_LEVEL = 6;

/** A ring document encoded and hashed once for every node it is offered to. */
export interface RingOffer {
  /** The JSON text or its gzip. */
  body: string | Buffer;
  gzipped: boolean;
  /** The body's SHA-256, which each request's signature covers. */
  sha256: string;
}

/** Encodes a ring document (its JSON text) for PUT /v1/ring: gzipped past PLAIN_RING_MAX_BYTES. */
export async function encodeRingOffer(text: string): Promise<RingOffer> {
  const gzipped = Buffer.byteLength(text) > PLAIN_RING_MAX_BYTES;
  const body = gzipped ? await gzipRingDocument(text) : text;
  return { body, gzipped, sha256: bodySha256(body) };
}

/** The gzip of a ring document's text, as GET /v1/ring answers a client that accepts it. */
export function gzipRingDocument(text: string): Promise<Buffer> {
  return gzipAsync(text, { level: GZIP_LEVEL, chunkSize: ZLIB_CHUNK_BYTES });
}

/**
 * The text of a ring document that arrived gzipped, inflated off the event loop and never past
 * `maxBytes` (a small body can inflate a thousandfold). Throws BadRequest when it is not gzip or
 * inflates too far.
 */
export async function gunzipRingDocument(body: Buffer, maxBytes = MAX_RING_DOCUMENT_BYTES): Promise<string> {
  let text: Buffer;
  try {
    text = await gunzipAsync(body, { maxOutputLength: maxBytes, chunkSize: ZLIB_CHUNK_BYTES });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ERR_BUFFER_TOO_LARGE') throw new WireError('BadRequest', `ring document inflates past ${maxBytes} bytes`);
    throw new WireError('BadRequest', 'ring document is not valid gzip');
  }
  return text.toString('utf8');
}
