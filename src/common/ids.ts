import { randomBytes } from 'node:crypto';

/** An S3-style request id: 16 upper-case hex characters, unique enough to find a request in the logs. */
export function newRequestId(): string {
  return randomBytes(8).toString('hex').toUpperCase();
}

/** A random hex token of `bytes` bytes (upload ids, secrets, writer ids). */
export function randomHex(bytes: number): string {
  return randomBytes(bytes).toString('hex');
}
