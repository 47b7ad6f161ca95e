import { randomBytes } from 'node:crypto';

/** An S3-style request id: 16 upper-case hex characters, unique enough to find a request in the logs. */
export function newRequestId(): string {
  return randomBytes(8).toString('hex').toUpperCase();
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
