import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/** Header carrying the request time (ms since epoch) covered by the signature. */
export const DATE_HEADER = 'x-tessera-date';
/** Header carrying the hex HMAC-SHA256 signature. */
export const SIGNATURE_HEADER = 'x-tessera-signature';
/** Header carrying the body's SHA-256 hex, or UNSIGNED_BODY for streamed shard bodies. */
export const BODY_HASH_HEADER = 'x-tessera-body-sha256';
/**
 * Marker for streamed shard bodies, which the signature leaves out: buffering a shard just to hash it
 * first would defeat streaming. Nothing else covers them on the way either: the node computes its
 * per-block checksums itself over the bytes it received, so they catch later damage on its disk, not
 * a body altered or corrupted between gateway and node.
 */
export const UNSIGNED_BODY = 'UNSIGNED-SHARD';
/** Signatures older or newer than this are refused, which bounds replay. */
export const MAX_SIGNATURE_SKEW_MS = 5 * 60 * 1000;

const EMPTY_SHA256 = createHash('sha256').digest('hex');

/** SHA-256 hex of a request body (the empty body when absent). */
export function bodySha256(body: Uint8Array | string | undefined): string {
  if (body === undefined || body.length === 0) return EMPTY_SHA256;
  return createHash('sha256').update(body).digest('hex');
}

function stringToSign(method: string, url: string, dateMs: number, bodyHash: string): string {
  return `TESSERA-HMAC-SHA256\n${method.toUpperCase()}\n${url}\n${dateMs}\n${bodyHash}`;
}

/** Headers that authenticate a node request: method, path with query, time and body hash under the cluster secret. */
export function signRequest(
  secret: string,
  method: string,
  url: string,
  bodyHash: string,
  nowMs: number,
): Record<string, string> {
  const signature = createHmac('sha256', secret).update(stringToSign(method, url, nowMs, bodyHash)).digest('hex');
  return { [DATE_HEADER]: String(nowMs), [BODY_HASH_HEADER]: bodyHash, [SIGNATURE_HEADER]: signature };
}

/** Why a signature was refused; `null` when it is valid. */
export type SignatureProblem = 'missing' | 'stale' | 'mismatch';

/** Checks a node request's signature in constant time. `url` is the request target exactly as received. */
export function verifyRequestSignature(
  secret: string,
  method: string,
  url: string,
  headers: Record<string, string | string[] | undefined>,
  nowMs: number,
): SignatureProblem | null {
  const date = headers[DATE_HEADER];
  const signature = headers[SIGNATURE_HEADER];
  const bodyHash = headers[BODY_HASH_HEADER];
  if (typeof date !== 'string' || typeof signature !== 'string' || typeof bodyHash !== 'string') return 'missing';
  const dateMs = Number(date);
  if (!Number.isSafeInteger(dateMs) || Math.abs(nowMs - dateMs) > MAX_SIGNATURE_SKEW_MS) return 'stale';
  const expected = createHmac('sha256', secret).update(stringToSign(method, url, dateMs, bodyHash)).digest();
  const given = Buffer.from(signature, 'hex');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'mismatch';
  return null;
}
