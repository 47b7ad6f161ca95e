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

/**
 * Why a signature was refused; `null` when it is valid. `malformed`: a signed header is not in its one
 * canonical form; `repeated`: a signed header came more than once.
 */
export type SignatureProblem = 'missing' | 'malformed' | 'repeated' | 'stale' | 'mismatch' | 'other-node';

/** The node checking a request: its id, and whether this request may be one signed for any node. */
export interface SignatureAudience {
  nodeId: string;
  anyNode: boolean;
}

/** The signed headers of a request, each read from its one canonical form. */
export interface SignedHeaders {
  dateMs: number;
  /** The 32 bytes of the HMAC, decoded: what a request is remembered by (replay-guard.ts). */
  signature: Buffer;
  bodyHash: string;
  /** Absent only in requests from peers that predate NODE_HEADER. */
  node: string | undefined;
}

/** Milliseconds as signRequest writes them: decimal digits, no sign, no leading zero, no point or exponent. */
const CANONICAL_DATE = /^(?:0|[1-9][0-9]{0,15})$/;
/** An HMAC-SHA256 or SHA-256 as signRequest writes it: 64 lowercase hex digits, nothing around them. */
const CANONICAL_HEX_256 = /^[0-9a-f]{64}$/;

/**
 * A header's one value, `repeated` when it came more than once, `undefined` when absent. Takes Node's
 * `headersDistinct` (every value apart) or its `headers`, which join a repeated unknown header with
 * ", ": no canonical form holds a comma, so a joined value is refused as malformed.
 */
function single(headers: Record<string, string | string[] | undefined>, name: string): string | undefined | 'repeated' {
  const value = headers[name];
  if (!Array.isArray(value)) return value;
  if (value.length > 1) return 'repeated';
  return value[0];
}

/**
 * The signed headers of a request, or why they cannot be read. Each is taken in the one form signRequest
 * writes and no other: decoders that are lenient (hex in either case, trailing characters ignored,
 * Number() reading `+1`, `01`, `1e3` or `0x1`) would let one captured signature be sent in many
 * spellings that all verify, and a replay guard that remembers what it saw would admit each one again.
 */
export function readSignedHeaders(headers: Record<string, string | string[] | undefined>): SignedHeaders | 'missing' | 'malformed' | 'repeated' {
  const date = single(headers, DATE_HEADER);
  const signature = single(headers, SIGNATURE_HEADER);
  const bodyHash = single(headers, BODY_HASH_HEADER);
  const node = single(headers, NODE_HEADER);
  if (date === 'repeated' || signature === 'repeated' || bodyHash === 'repeated' || node === 'repeated') return 'repeated';
  if (date === undefined || signature === undefined || bodyHash === undefined) return 'missing';
  if (!CANONICAL_DATE.test(date) || !Number.isSafeInteger(Number(date))) return 'malformed';
  if (!CANONICAL_HEX_256.test(signature)) return 'malformed';
  if (bodyHash !== UNSIGNED_BODY && !CANONICAL_HEX_256.test(bodyHash)) return 'malformed';
  if (node === '') return 'malformed';
  return { dateMs: Number(date), signature: Buffer.from(signature, 'hex'), bodyHash, node };
}

/**
 * Checks a node request's signature in constant time, then that it names this node. `url` is the
 * request target exactly as received; `headers` is best Node's `headersDistinct`, so a repeated signed
 * header is seen as one. A request without NODE_HEADER is checked as peers that predate it sign (so a
 * cluster can be upgraded one process at a time); stripping the header from a newer request does not
 * turn it into one, since its signature covers the node.
 */
export function verifyRequestSignature(
  secret: string,
  method: string,
  url: string,
  headers: Record<string, string | string[] | undefined>,
  nowMs: number,
  audience: SignatureAudience,
): SignatureProblem | null {
  const signed = readSignedHeaders(headers);
  if (typeof signed === 'string') return signed;
  const { dateMs, signature, bodyHash, node } = signed;
  if (Math.abs(nowMs - dateMs) > MAX_SIGNATURE_SKEW_MS) return 'stale';
  const expected = createHmac('sha256', secret).update(stringToSign(method, url, dateMs, bodyHash, node)).digest();
  if (signature.length !== expected.length || !timingSafeEqual(signature, expected)) return 'mismatch';
  if (node !== undefined && node !== audience.nodeId && !(node === ANY_NODE && audience.anyNode)) return 'other-node';
  return null;
}
