import { createHash, type Hash } from 'node:crypto';
import { createChecksumHasher, type ChecksumAlgorithm, type ChecksumHasher } from '../s3/checksums/index.js';

/** Which digests a body needs: MD5 always (the ETag), SHA-256 when the client signed the payload, and a flexible checksum when one applies. */
export interface DigestSpec {
  sha256: boolean;
  checksum: ChecksumAlgorithm | undefined;
}

/** A body's finished digests (plain arrays, so they cross a worker boundary unchanged). */
export interface BodyDigests {
  md5: Uint8Array;
  sha256: Uint8Array | undefined;
  checksum: Uint8Array | undefined;
}

/**
 * The one place a stored body is hashed: the same code runs on the request thread for small bodies and
 * in a digest worker for large ones.
 */
export class DigestHashers {
  private readonly md5: Hash = createHash('md5');
  private readonly sha256: Hash | undefined;
  private readonly checksum: ChecksumHasher | undefined;

  constructor(spec: DigestSpec) {
    this.sha256 = spec.sha256 ? createHash('sha256') : undefined;
    this.checksum = spec.checksum === undefined ? undefined : createChecksumHasher(spec.checksum);
  }

  /** Feeds more of the body. */
  update(data: Uint8Array): void {
    this.md5.update(data);
    this.sha256?.update(data);
    this.checksum?.update(data);
  }

  /** The digests; call once. */
  finish(): BodyDigests {
    return { md5: this.md5.digest(), sha256: this.sha256?.digest(), checksum: this.checksum?.digest() };
  }
}
