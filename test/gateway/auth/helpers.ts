/**
 * Test-side SigV4 tooling, written independently of src/gateway/auth: a signer for aws-chunked bodies, the
 * @smithy/signature-v4 signer wired to node:crypto, and a harness that pushes a body through the decoder in pieces.
 */
import { createHash, createHmac } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { SignatureV4 } from '@smithy/signature-v4';
import { createBodyDecoder, type AuthRequest, type AuthResult, type BodyDecodeResult, type BodyDecoderOptions, type CredentialStore } from '../../../src/gateway/auth/index.js';

export const DOC_ACCESS_KEY = 'AKIAIOSFODNN7EXAMPLE';
export const DOC_SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
/** 2013-05-24T00:00:00Z, the time of every AWS documentation example. */
export const DOC_NOW = Date.UTC(2013, 4, 24);
export const DOC_DATE = '20130524T000000Z';
export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

export const OTHER_ACCESS_KEY = 'TESSERA0TEST0KEY';
export const OTHER_SECRET = 'tessera+secret/with=odd~chars';

/** The documentation key plus a second one, so tests can swap keys. */
export const credentials: CredentialStore = {
  secretKeyFor: (id) => (id === DOC_ACCESS_KEY ? DOC_SECRET : id === OTHER_ACCESS_KEY ? OTHER_SECRET : undefined),
};

export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

export function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

export function signingKey(secret: string, date: string, region: string): Buffer {
  return hmac(hmac(hmac(hmac(`AWS4${secret}`, date), region), 's3'), 'aws4_request');
}

/** SHA-256 for @smithy/signature-v4 backed by node:crypto (HMAC when constructed with a secret). */
export class NodeSha256 {
  readonly #h: ReturnType<typeof createHash> | ReturnType<typeof createHmac>;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    const key = secret === undefined || typeof secret === 'string' ? secret : ArrayBuffer.isView(secret) ? new Uint8Array(secret.buffer, secret.byteOffset, secret.byteLength) : new Uint8Array(secret);
    this.#h = key === undefined ? createHash('sha256') : createHmac('sha256', key);
  }
  update(data: Uint8Array): void {
    this.#h.update(data);
  }
  reset(): void {
    throw new Error('not needed by the signer');
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.#h.digest()));
  }
}

/** The SDK's own signer as the S3 client configures it: the path is already encoded, never escaped again. */
export function smithySigner(region = 'us-east-1', accessKeyId = DOC_ACCESS_KEY, secretAccessKey = DOC_SECRET): SignatureV4 {
  return new SignatureV4({ credentials: { accessKeyId, secretAccessKey }, region, service: 's3', sha256: NodeSha256, uriEscapePath: false });
}

/** Headers as node's http server hands them over: lower-case names, values latin1-decoded from their UTF-8 bytes. */
export function toNodeHeaders(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) out[name.toLowerCase()] = Buffer.from(value, 'utf8').toString('latin1');
  return out;
}

/** What a chunked body needs to be signed. */
export interface ChunkSigning {
  key: Buffer;
  amzDate: string;
  scope: string;
  seed: string;
}

export function chunkSignature(s: ChunkSigning, previous: string, data: Uint8Array): string {
  const sts = ['AWS4-HMAC-SHA256-PAYLOAD', s.amzDate, s.scope, previous, EMPTY_SHA256, sha256Hex(data)].join('\n');
  return createHmac('sha256', s.key).update(sts).digest('hex');
}

export function trailerSignature(s: ChunkSigning, previous: string, canonicalTrailers: string): string {
  const sts = ['AWS4-HMAC-SHA256-TRAILER', s.amzDate, s.scope, previous, sha256Hex(canonicalTrailers)].join('\n');
  return createHmac('sha256', s.key).update(sts).digest('hex');
}

/** Cuts `data` into chunks of the given sizes (the last size repeats). */
export function cut(data: Buffer, sizes: readonly number[]): Buffer[] {
  const chunks: Buffer[] = [];
  let pos = 0;
  let i = 0;
  while (pos < data.length) {
    const size = Math.max(1, sizes[Math.min(i++, sizes.length - 1)]!);
    chunks.push(data.subarray(pos, pos + size));
    pos += size;
  }
  return chunks;
}

/**
 * Frames `data` as aws-chunked. With `signing`, every chunk carries a chained chunk-signature (and the trailer a
 * trailer signature); without it, the unsigned-trailer framing botocore and the JS SDK send.
 */
export function frameChunked(
  data: Buffer,
  options: { chunkSizes: readonly number[]; signing?: ChunkSigning; trailers?: readonly [string, string][] },
): Buffer {
  const parts: Buffer[] = [];
  let previous = options.signing?.seed ?? '';
  const ext = (chunk: Buffer): string => {
    if (options.signing === undefined) return '';
    previous = chunkSignature(options.signing, previous, chunk);
    return `;chunk-signature=${previous}`;
  };
  for (const chunk of cut(data, options.chunkSizes)) {
    parts.push(Buffer.from(`${chunk.length.toString(16)}${ext(chunk)}\r\n`), chunk, Buffer.from('\r\n'));
  }
  parts.push(Buffer.from(`0${ext(Buffer.alloc(0))}\r\n`));
  if (options.trailers !== undefined) {
    let canonical = '';
    for (const [name, value] of options.trailers) {
      parts.push(Buffer.from(`${name}:${value}\r\n`));
      canonical += `${name}:${value}\n`;
    }
    if (options.signing !== undefined) {
      parts.push(Buffer.from(`x-amz-trailer-signature:${trailerSignature(options.signing, previous, canonical)}\r\n`));
    }
  }
  parts.push(Buffer.from('\r\n'));
  return Buffer.concat(parts);
}

/** A small deterministic PRNG so random splits are reproducible from a seed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** How to cut the wire bytes into the pieces the decoder receives (TCP may split anywhere). */
export type Split = 'whole' | 'bytes' | { seed: number; maxBytes: number };

export function split(body: Buffer, how: Split): Buffer[] {
  if (how === 'whole') return [body];
  if (how === 'bytes') return Array.from({ length: body.length }, (_, i) => body.subarray(i, i + 1));
  const next = rng(how.seed);
  const pieces: Buffer[] = [];
  for (let pos = 0; pos < body.length; ) {
    const n = 1 + Math.floor(next() * how.maxBytes);
    pieces.push(body.subarray(pos, pos + n));
    pos += n;
  }
  return pieces;
}

/** The outcome of pushing a body through a decoder: what came out, whether it ended, and the error if any. */
export interface Decoded {
  output: Buffer;
  /** How many pieces the decoder emitted. */
  pieces: number;
  ended: boolean;
  error: unknown;
  result: BodyDecodeResult | undefined;
}

/** Runs `body` through a fresh decoder, cut as `how`; never throws (construction errors included). */
export async function decode(
  auth: AuthResult,
  headers: AuthRequest['headers'],
  body: Buffer,
  how: Split = 'whole',
  options: BodyDecoderOptions = {},
): Promise<Decoded> {
  const out: Buffer[] = [];
  let ended = false;
  let decoder;
  try {
    decoder = createBodyDecoder(auth, headers, options);
  } catch (error) {
    return { output: Buffer.alloc(0), pieces: 0, ended: false, error, result: undefined };
  }
  decoder.on('end', () => {
    ended = true;
  });
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      out.push(chunk);
      cb();
    },
  });
  try {
    await pipeline(Readable.from(split(body, how)), decoder, sink);
    return { output: Buffer.concat(out), pieces: out.length, ended, error: undefined, result: decoder.result() };
  } catch (error) {
    return { output: Buffer.concat(out), pieces: out.length, ended, error, result: undefined };
  }
}

/** The S3 error code of `err`, for `t.equal(codeOf(err), 'BadDigest')`. */
export function codeOf(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined;
}
