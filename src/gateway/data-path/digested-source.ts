import { BodyDigest } from '../digest/index.js';
import type { ChecksumAlgorithm } from '../s3/checksums/index.js';
import type { VerifiedBody } from './pending-version.js';
import type { WritePathDeps } from './path-deps.js';
import type { RequestScope } from './request-scope.js';

/**
 * Bytes that are already in the store (a copy source) or a form's file, on their way into a new
 * version: `body` passes them on while their MD5 and, when asked, a flexible checksum are computed
 * (in the digest pool when large), never holding more than a piece. `digests()` answers once the
 * source has ended; `close()` gives back the digest's worker, whatever happened.
 */
export class DigestedSource {
  /** The source's bytes, hashed as they pass. */
  readonly body: AsyncIterable<Uint8Array>;
  private readonly digest: BodyDigest;
  private readonly algorithm: ChecksumAlgorithm | undefined;

  constructor(ctx: RequestScope<Pick<WritePathDeps, 'digestPool'>>, source: AsyncIterable<Uint8Array>, algorithm: ChecksumAlgorithm | undefined) {
    this.algorithm = algorithm;
    const digest = new BodyDigest({ sha256: false, checksum: algorithm }, ctx.services.digestPool);
    this.digest = digest;
    this.body = (async function* hashed(): AsyncGenerator<Uint8Array> {
      for await (const piece of source) {
        if (!digest.update(piece)) await digest.ready();
        yield piece;
      }
    })();
  }

  /** The body's MD5 and checksum, once it has been read to the end. */
  async digests(): Promise<VerifiedBody> {
    const digests = await this.digest.digests();
    const { algorithm } = this;
    return {
      md5Hex: Buffer.from(digests.md5).toString('hex'),
      checksums: algorithm === undefined || digests.checksum === undefined ? [] : [{ algorithm, base64: Buffer.from(digests.checksum).toString('base64') }],
    };
  }

  /** Gives back what the digest holds. */
  close(): void {
    this.digest.abandon();
  }
}
