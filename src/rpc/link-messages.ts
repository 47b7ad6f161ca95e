import { WireError } from './wire-errors.js';

/**
 * What the two ends of an in-process link (local-link.ts, serve-local-link.ts) say to each other, and
 * the limits both keep to.
 */

/**
 * What a caller sends over a link: a batch, a read, or an upload (its chunks, then its end).
 * `credit`: bytes of a read the caller has taken so far.
 */
export type LinkRequest =
  | { kind: 'batch'; id: number; text: string }
  | { kind: 'read'; id: number; query: string }
  | { kind: 'credit'; id: number; bytes: number }
  | { kind: 'upload'; id: number; query: string }
  | { kind: 'data'; id: number; chunk: ArrayBuffer }
  | { kind: 'end'; id: number }
  | { kind: 'cancel'; id: number };

/**
 * What a node answers: a batch's or an upload's JSON answer; a read's size, then its chunks and its
 * end; or the wire error that refused the request (a read's failure once its size was sent).
 * `credited`: bytes of an upload the node has taken so far.
 */
export type LinkAnswer =
  | { id: number; text: string }
  | { id: number; sizeBytes: number }
  | { id: number; chunk: ArrayBuffer }
  | { id: number; end: true }
  | { id: number; credited: number }
  | { id: number; code: string; message: string };

/**
 * Bytes of a stream its sender sends ahead of what its receiver has taken: a stream that is not
 * consumed holds at most this much (plus the receiving stream's own mark), as a socket's buffers
 * bound an HTTP body.
 */
export const WINDOW_BYTES = 1024 * 1024;
/**
 * A read sends its chunks gathered into messages of up to this much (a stripe block at the default
 * block size): a message costs both threads a wake-up, its framing and a stream push whatever it
 * carries, and a shard's 64 KiB chunks one by one cost four of them per block.
 */
export const READ_MESSAGE_BYTES = 256 * 1024;

/** Why calls fail once the node's side of the link is gone (the node closed, its thread ended). */
export const CLOSED_MESSAGE = 'the node closed its in-process link';

/** A request the node refused, or a read it could not finish, with the wire error its HTTP route would have answered. */
export class LinkRefusal extends WireError {}
