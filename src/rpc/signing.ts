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

/**
 * Header naming the node a request is for, covered by the signature: a request captured on its way to
 * one node is refused by every other, within the signature window as after it.
 */
export const NODE_HEADER = 'x-tessera-node';
/**
 * NODE_HEADER of a request to an address whose node is not known by id yet (a seed asked for its ring).
 * A node takes it only where its caller says any node may answer.
 */
export const ANY_NODE = '*';

/** What is signed; `node` is absent only in requests from peers that predate NODE_HEADER. */
function stringToSign(method: string, url: string, dateMs: number, bodyHash: string, node: string | undefined): string {
  const signed = `TESSERA-HMAC-SHA256\n${method.toUpperCase()}\n${url}\n${dateMs}\n${bodyHash}`;
  return node === undefined ? signed : `${signed}\n${node}`;
}

/**
 * Headers that authenticate a node request: method, path with query, time, body hash and the node it
 * is for (its id, or ANY_NODE) under the cluster secret.
 */
export function signRequest(
  secret: string,
  method: string,
  url: string,
  bodyHash: string,
  nowMs: number,
  node: string,
): Record<string, string> {
  const signature = createHmac('sha256', secret).update(stringToSign(method, url, nowMs, bodyHash, node)).digest('hex');
  return { [DATE_HEADER]: String(nowMs), [BODY_HASH_HEADER]: bodyHash, [NODE_HEADER]: node, [SIGNATURE_HEADER]: signature };
}

/** Why a signature was refused; `null` when it is valid. */
export type SignatureProblem = 'missing' | 'stale' | 'mismatch' | 'other-node';

/** The node checking a request: its id, and whether this request may be one signed for any node. */
export interface SignatureAudience {
  nodeId: string;
  anyNode: boolean;
}

/**
 * Checks a node request's signature in constant time, then that it names this node. `url` is the
 * request target exactly as received. A request without NODE_HEADER is checked as peers that predate
 * it sign (so a cluster can be upgraded one process at a time); stripping the header from a newer
 * request does not turn it into one, since its signature covers the node.
 */
export function verifyRequestSignature(
  secret: string,
  method: string,
  url: string,
  headers: Record<string, string | string[] | undefined>,
  nowMs: number,
  audience: SignatureAudience,
): SignatureProblem | null {
  const date = headers[DATE_HEADER];
  const signature = headers[SIGNATURE_HEADER];
  const bodyHash = headers[BODY_HASH_HEADER];
  const node = headers[NODE_HEADER];
  if (typeof date !== 'string' || typeof signature !== 'string' || typeof bodyHash !== 'string' || Array.isArray(node)) return 'missing';
  const dateMs = Number(date);
  if (!Number.isSafeInteger(dateMs) || Math.abs(nowMs - dateMs) > MAX_SIGNATURE_SKEW_MS) return 'stale';
  const expected = createHmac('sha256', secret).update(stringToSign(method, url, dateMs, bodyHash, node)).digest();
  const given = Buffer.from(signature, 'hex');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'mismatch';
  if (node !== undefined && node !== audience.nodeId && !(node === ANY_NODE && audience.anyNode)) return 'other-node';
  return null;
}
