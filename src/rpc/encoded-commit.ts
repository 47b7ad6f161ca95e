import type { CommitRequest } from './protocol.js';
import { bodySha256 } from './signing.js';

/**
 * A commit request serialised and hashed once, so the same bytes go to every node of a set: a
 * multipart manifest of 10,000 parts is megabytes, too much to stringify and hash once per node.
 */
export class EncodedCommit {
  /** The request as JSON. */
  readonly text: string;
  private hash: string | undefined;

  constructor(request: CommitRequest) {
    this.text = JSON.stringify(request);
  }

  /** SHA-256 hex of `text`, computed on first use. */
  get sha256(): string {
    this.hash ??= bodySha256(this.text);
    return this.hash;
  }
}
