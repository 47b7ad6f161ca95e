import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { BodyDigest, type DigestPool } from '../digest/index.js';
import { isValidChecksumValue, type ChecksumAlgorithm, type ChecksumValue } from '../s3/checksums/index.js';
import { S3Error } from '../s3/index.js';
import { AwsChunkedParser } from './aws-chunked-parser.js';
import { ChunkBudgetShare, type BodyBudget } from './chunk-budget.js';
import { isChunked, readBodyExpectations, type BodyExpectations } from './body-headers.js';
import { sha256Hex, signaturesEqual } from './signing.js';
import type { AuthRequest, AuthResult } from './types.js';

/** What the decoder established about the body once it has ended. */
export interface BodyDecodeResult {
  /** Hex MD5 of the decoded body: the ETag of a single-part object. */
  md5Hex: string;
  /** Decoded body size: framing never counted. */
  sizeBytes: number;
  /** The client's checksum, verified; or the computed one when the client named only an algorithm or a default applies. */
  checksums: ChecksumValue[];
}

/** Tuning for `createBodyDecoder`. */
export interface BodyDecoderOptions {
  /** Largest signed chunk buffered for verification; default 16 MiB (SDKs use 64 KiB to 1 MiB). */
  maxSignedChunkBytes?: number;
  /** Checksum to compute and report when the client sends none (S3 itself defaults to CRC64NVME). */
  defaultChecksumAlgorithm?: ChecksumAlgorithm;
  /** Worker threads for the body's digests; without them, large bodies are hashed on the request thread. */
  digestPool?: DigestPool | undefined;
  /** The gateway's byte budget: signed chunks held for verification count against it; uncounted without it. */
  budget?: BodyBudget | undefined;
}

const DEFAULT_MAX_SIGNED_CHUNK_BYTES = 16 * 1024 * 1024;
// Pieces smaller than this are copied together while a signed chunk waits for its signature: a client trickling a
// 16 MiB chunk one byte per TCP segment must not make us hold millions of tiny Buffer objects.
const COALESCE_BELOW_BYTES = 4096;
const SCRATCH_BYTES = 64 * 1024;
const SIGNATURE_HEX = /^[0-9a-f]{64}$/;
const EMPTY = Buffer.alloc(0);

function malformedTrailer(message: string): S3Error {
  return new S3Error('MalformedTrailerError', { message });
}

/**
 * Turns the request body into the object's bytes and proves them: strips aws-chunked framing, verifies every chunk
 * signature before passing that chunk on, and at the end verifies the trailer signature, the payload SHA-256,
 * Content-MD5 and the flexible checksum. Every failure is raised before 'end', and the last piece of data is held back
 * until all checks pass, so a consumer that commits on 'end' never stores an unverified body.
 */
export class BodyDecoder extends Transform {
  readonly #auth: AuthResult;
  readonly #expect: BodyExpectations;
  readonly #maxSignedChunkBytes: number;
  readonly #digest: BodyDigest;
  #digestBusy = false;
  readonly #parser: AwsChunkedParser | undefined;
  readonly #signedChunks: boolean;
  #sizeBytes = 0;
  #held: Buffer | undefined;
  #previousSignature: string;
  #chunkSignature = '';
  #chunkHash: Hash | undefined;
  #chunkPieces: Buffer[] = [];
  #scratch: Buffer | undefined;
  #scratchStart = 0;
  #scratchEnd = 0;
  readonly #trailers = new Map<string, string>();
  #trailerCanonical = '';
  #trailerSignature: string | undefined;
  #result: BodyDecodeResult | undefined;
  readonly #share: ChunkBudgetShare;
  /** Declared size of the signed chunk being held for its signature (its room in the budget is taken); 0 between chunks. */
  #chunkBytes = 0;
  /** Set when the parser stopped at a chunk header whose room in the budget must be waited for. */
  #waitForBytes = 0;

  constructor(auth: AuthResult, headers: AuthRequest['headers'], options: BodyDecoderOptions = {}) {
    super();
    this.#auth = auth;
    this.#expect = readBodyExpectations(auth, headers, options.defaultChecksumAlgorithm);
    this.#maxSignedChunkBytes = options.maxSignedChunkBytes ?? DEFAULT_MAX_SIGNED_CHUNK_BYTES;
    this.#digest = new BodyDigest({ sha256: auth.payloadMode === 'sha256', checksum: this.#expect.checksum?.algorithm }, options.digestPool);
    this.#signedChunks = auth.payloadMode === 'streaming-signed' || auth.payloadMode === 'streaming-signed-trailer';
    this.#previousSignature = auth.signature;
    this.#share = new ChunkBudgetShare(options.budget);
    this.#parser = isChunked(auth.payloadMode)
      ? new AwsChunkedParser({
          chunkHeader: (size, signature) => this.#chunkHeader(size, signature),
          chunkData: (data) => this.#chunkData(data),
          chunkEnd: () => this.#chunkEnd(),
          trailerLine: (line) => this.#trailerLine(line),
        })
      : undefined;
  }

  /** The verified facts about the body; only valid after 'end'. */
  result(): BodyDecodeResult {
    if (this.#result === undefined) throw new Error('BodyDecoder.result() called before the body ended');
    return this.#result;
  }

  override _transform(chunk: Buffer | string, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#feed(typeof chunk === 'string' ? Buffer.from(chunk) : chunk, callback);
  }

  #feed(buf: Buffer, callback: TransformCallback): void {
    let rest: Buffer = EMPTY;
    try {
      if (this.#parser !== undefined) {
        const read = this.#parser.write(buf);
        if (read < buf.length) rest = buf.subarray(read);
      } else {
        this.#account(buf);
        this.#emit(buf);
      }
    } catch (err) {
      callback(err as Error);
      return;
    }
    if (this.#waitForBytes > 0) {
      // The budget is full: read no more of the body (TCP holds the client back) until the announced chunk has room.
      const bytes = this.#waitForBytes;
      this.#waitForBytes = 0;
      this.#share.wait(bytes).then(() => {
        this.#chunkBytes = bytes;
        this.#feed(rest, callback);
      }, callback);
      return;
    }
    if (!this.#digestBusy) {
      callback();
      return;
    }
    // The digest worker is behind: take no more of the body until it catches up.
    this.#digestBusy = false;
    this.#digest.ready().then(() => callback(), callback);
  }

  override _flush(callback: TransformCallback): void {
    this.#finish().then(
      () => {
        if (this.#held !== undefined) this.push(this.#held);
        this.#held = undefined;
        this.#settleBudget();
        callback();
      },
      (err: unknown) => {
        this.#digest.abandon();
        callback(err as Error);
      },
    );
  }

  override _read(size: number): void {
    // The reader is taking verified bytes: their room in the budget goes back. Readable#read calls _read
    // before it takes them from the buffer, so the count is made once that read is over.
    if (this.#share.held > 0) queueMicrotask(() => this.#settleBudget());
    super._read(size);
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    this.#digest.abandon();
    this.#share.close();
    callback(err);
  }

  /** Gives back the budget held beyond what the decoder keeps now: the chunk being verified, the held-back piece, unread output. */
  #settleBudget(): void {
    this.#share.settle(this.#chunkBytes + (this.#held?.length ?? 0) + this.readableLength);
  }

  // Hashing happens as bytes arrive; forwarding lags one piece so the final bytes wait for the final checks.
  #account(data: Buffer): void {
    this.#sizeBytes += data.length;
    const expected = this.#expect.expectedSizeBytes;
    if (expected !== undefined && this.#sizeBytes > expected) {
      throw new S3Error('IncompleteBody', { message: `The body is longer than the declared ${expected} bytes.` });
    }
    if (!this.#digest.update(data)) this.#digestBusy = true;
  }

  #emit(data: Buffer): void {
    if (data.length === 0) return;
    if (this.#held !== undefined) this.push(this.#held);
    this.#held = data;
  }

  /** False when the chunk's room in the budget must be waited for before its bytes are read. */
  #chunkHeader(size: number, signature: string | undefined): boolean {
    if (!this.#signedChunks) return true;
    if (signature === undefined || !SIGNATURE_HEX.test(signature)) {
      throw new S3Error('SignatureDoesNotMatch', { message: 'A chunk of the aws-chunked body has no valid chunk-signature.' });
    }
    // A chunk the whole budget could not hold would wait for room forever.
    const largest = Math.min(this.#maxSignedChunkBytes, this.#share.capacity);
    if (size > largest) {
      throw new S3Error('InvalidRequest', { message: `Signed chunks larger than ${largest} bytes are not accepted.` });
    }
    this.#chunkSignature = signature;
    this.#chunkHash = createHash('sha256');
    // The zero-length final chunk has no data and no chunkEnd: its signature closes the chain now.
    if (size === 0) {
      this.#verifyChunk();
      return true;
    }
    // More data follows, so the piece held back is not the body's last: it goes on now rather than hold
    // room a chunk as large as the whole budget would need. Then room for the whole chunk is taken before
    // any of it is kept: it is held until its signature checks out.
    if (this.#held !== undefined) this.push(this.#held);
    this.#held = undefined;
    this.#settleBudget();
    if (!this.#share.tryTake(size)) {
      this.#waitForBytes = size;
      return false;
    }
    this.#chunkBytes = size;
    return true;
  }

  #chunkData(data: Buffer): void {
    this.#account(data);
    if (this.#signedChunks) {
      this.#chunkHash!.update(data);
      this.#collect(data);
    } else {
      this.#emit(data);
    }
  }

  #chunkEnd(): void {
    if (!this.#signedChunks) return;
    this.#verifyChunk();
    this.#sealScratch();
    for (const piece of this.#chunkPieces) this.#emit(piece);
    this.#chunkPieces = [];
    this.#chunkBytes = 0;
    this.#settleBudget();
  }

  // Large pieces are kept as views (no copy); small ones are packed into a scratch buffer used to its end.
  #collect(data: Buffer): void {
    if (data.length >= COALESCE_BELOW_BYTES) {
      this.#sealScratch();
      this.#chunkPieces.push(data);
      return;
    }
    if (this.#scratch === undefined || this.#scratchEnd + data.length > this.#scratch.length) {
      this.#sealScratch();
      this.#scratch = Buffer.allocUnsafe(SCRATCH_BYTES);
      this.#scratchStart = 0;
      this.#scratchEnd = 0;
    }
    this.#scratchEnd += data.copy(this.#scratch, this.#scratchEnd);
  }

  #sealScratch(): void {
    if (this.#scratch === undefined || this.#scratchEnd === this.#scratchStart) return;
    this.#chunkPieces.push(this.#scratch.subarray(this.#scratchStart, this.#scratchEnd));
    this.#scratchStart = this.#scratchEnd;
  }

  #verifyChunk(): void {
    const expected = this.#auth.chunkSigner.chunkSignature(this.#previousSignature, this.#chunkHash!.digest('hex'));
    if (!signaturesEqual(this.#chunkSignature, expected)) {
      throw new S3Error('SignatureDoesNotMatch', {
        message: 'The chunk signature we calculated does not match the signature you provided.',
        fields: { SignatureProvided: this.#chunkSignature },
      });
    }
    this.#previousSignature = this.#chunkSignature;
    this.#chunkHash = undefined;
  }

  #trailerLine(line: string): void {
    const mode = this.#auth.payloadMode;
    if (mode === 'streaming-signed') throw malformedTrailer('Trailers are not allowed with STREAMING-AWS4-HMAC-SHA256-PAYLOAD.');
    const colon = line.indexOf(':');
    if (colon <= 0) throw malformedTrailer('A trailer line is not "name:value".');
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (this.#trailerSignature !== undefined) throw malformedTrailer('x-amz-trailer-signature must be the last trailer.');
    if (name === 'x-amz-trailer-signature') {
      if (mode !== 'streaming-signed-trailer') throw malformedTrailer('An unsigned-payload trailer cannot carry a signature.');
      this.#trailerSignature = value;
      return;
    }
    if (!this.#expect.declaredTrailers.has(name)) throw malformedTrailer(`The trailer ${name} was not declared in x-amz-trailer.`);
    if (this.#trailers.has(name)) throw malformedTrailer(`The trailer ${name} was sent twice.`);
    this.#trailers.set(name, value);
    // The trailer signature covers each trailer as "name:value\n", as the SDK signers build it.
    this.#trailerCanonical += `${name}:${value}\n`;
  }

  async #finish(): Promise<void> {
    this.#parser?.end();
    const expectedSize = this.#expect.expectedSizeBytes;
    if (expectedSize !== undefined && this.#sizeBytes !== expectedSize) {
      throw new S3Error('IncompleteBody', { message: `The body has ${this.#sizeBytes} of the declared ${expectedSize} bytes.` });
    }
    const digests = await this.#digest.digests();
    if (digests.sha256 !== undefined) {
      const computed = Buffer.from(digests.sha256).toString('hex');
      if (computed !== this.#auth.payloadSha256) {
        throw new S3Error('XAmzContentSHA256Mismatch', {
          fields: { ClientComputedContentSHA256: this.#auth.payloadSha256 ?? '', S3ComputedContentSHA256: computed },
        });
      }
    }
    if (this.#auth.payloadMode === 'streaming-signed-trailer') this.#verifyTrailerSignature();
    const md5 = Buffer.from(digests.md5);
    const contentMd5 = this.#expect.contentMd5;
    if (contentMd5 !== undefined && !md5.equals(contentMd5)) {
      throw new S3Error('BadDigest', {
        fields: { ExpectedDigest: contentMd5.toString('base64'), CalculatedDigest: md5.toString('base64') },
      });
    }
    const checksums: ChecksumValue[] = [];
    const expectation = this.#expect.checksum;
    if (expectation !== undefined) {
      const computed = Buffer.from(digests.checksum ?? []).toString('base64');
      const name = `x-amz-checksum-${expectation.algorithm.toLowerCase()}`;
      let sent = expectation.headerValue;
      if (expectation.source === 'trailer') {
        sent = this.#trailers.get(name);
        if (sent === undefined) throw malformedTrailer(`The declared trailer ${name} is missing.`);
        if (!isValidChecksumValue(expectation.algorithm, sent)) {
          throw new S3Error('InvalidRequest', { message: `Value for ${name} trailing header is invalid.` });
        }
      }
      if (sent !== undefined && sent !== computed) {
        throw new S3Error('BadDigest', { message: `The ${expectation.algorithm} you specified did not match the calculated checksum.` });
      }
      checksums.push({ algorithm: expectation.algorithm, base64: computed });
    }
    this.#result = { md5Hex: md5.toString('hex'), sizeBytes: this.#sizeBytes, checksums };
  }

  #verifyTrailerSignature(): void {
    const provided = this.#trailerSignature;
    if (provided === undefined) throw new S3Error('SignatureDoesNotMatch', { message: 'The trailer has no x-amz-trailer-signature.' });
    const expected = this.#auth.chunkSigner.trailerSignature(this.#previousSignature, sha256Hex(this.#trailerCanonical));
    if (!signaturesEqual(provided, expected)) {
      throw new S3Error('SignatureDoesNotMatch', {
        message: 'The trailer signature we calculated does not match the signature you provided.',
        fields: { SignatureProvided: provided },
      });
    }
  }
}

/** Object-safe body pipeline for one authenticated request; throws at once (before any body byte) on invalid headers. */
export function createBodyDecoder(auth: AuthResult, headers: AuthRequest['headers'], options: BodyDecoderOptions = {}): BodyDecoder {
  return new BodyDecoder(auth, headers, options);
}
