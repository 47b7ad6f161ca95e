import type { BodyDigests, DigestSpec } from './digest-hashers.js';

/**
 * Request thread -> digest worker. A stream's first message carries its spec (no separate open), and its
 * last batch says so (no separate end), so a body of one or two batches costs as few thread wake-ups as
 * possible. `data` transfers its buffer; the worker sends it back with the answer.
 */
export type DigestRequest =
  | { op: 'data'; id: number; spec: DigestSpec | undefined; buffer: ArrayBuffer; lengthBytes: number; last: boolean }
  | { op: 'end'; id: number; spec: DigestSpec | undefined }
  | { op: 'drop'; id: number };

/** Digest worker -> request thread: a batch hashed (its buffer back), with the digests after the last one. */
export type DigestResponse =
  | { op: 'ack'; id: number; buffer: ArrayBuffer | undefined; digests: BodyDigests | undefined }
  | { op: 'failed'; id: number; message: string };
