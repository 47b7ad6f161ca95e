import { randomBytes } from 'node:crypto';

/** Random bytes drawn at once for request ids: one call into the random source per 512 requests, not one per request. */
const REQUEST_ID_POOL_BYTES = 4096;
const REQUEST_ID_BYTES = 8;
let requestIdPool = Buffer.alloc(0);
let requestIdOffset = 0;

/** An S3-style request id: 16 upper-case hex characters, random, unique enough to find a request in the logs. */
export function newRequestId(): string {
  if (requestIdOffset + REQUEST_ID_BYTES > requestIdPool.length) {
    requestIdPool = randomBytes(REQUEST_ID_POOL_BYTES);
    requestIdOffset = 0;
  }
  const id = requestIdPool.toString('hex', requestIdOffset, requestIdOffset + REQUEST_ID_BYTES).toUpperCase();
  requestIdOffset += REQUEST_ID_BYTES;
  return id;
}

/** A random hex token of `bytes` bytes (upload ids, secrets, writer ids). */
export function randomHex(bytes: number): string {
  return randomBytes(bytes).toString('hex');
}

/** This process's part of every token newToken() makes: random, so no two processes share one. */
const TOKEN_PREFIX = randomBytes(8).toString('hex');
let tokenCount = 0;

/**
 * A token unique across processes and within this one (a random per-process part and a counter), for
 * ids that must not collide but need not be unguessable, such as a write's key-lease token: asking
 * the random source for every write showed up in a profile of small PUTs.
 */
export function newToken(): string {
  tokenCount += 1;
  return `${TOKEN_PREFIX}${tokenCount.toString(36)}`;
}
