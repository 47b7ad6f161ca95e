import {
  CHECKSUM_ALGORITHMS,
  checksumAlgorithmFromHeaderName,
  checksumHeaderName,
  isValidChecksumValue,
  parseChecksumAlgorithm,
  type ChecksumAlgorithm,
} from '../s3/checksums/index.js';
import { S3Error } from '../s3/index.js';
import { parseByteCount } from './auth-params.js';
import type { AuthRequest, AuthResult, PayloadMode } from './types.js';

/** Where the checksum to verify comes from; 'computed' means none was sent and the body's own value is stored. */
export type ChecksumSource = 'header' | 'trailer' | 'computed';

/** What the body must match, read from the headers before a single body byte is accepted. */
export interface BodyExpectations {
  /** Decoded Content-MD5 (16 bytes). */
  contentMd5: Buffer | undefined;
  checksum: { algorithm: ChecksumAlgorithm; source: ChecksumSource; headerValue: string | undefined } | undefined;
  /** Lower-case trailer names announced in `x-amz-trailer`. */
  declaredTrailers: ReadonlySet<string>;
  /** Decoded body size the framing must add up to, when the client declared one. */
  expectedSizeBytes: number | undefined;
}

/** True for the payload modes whose aws-chunked body ends with a trailer section. */
export function hasTrailer(mode: PayloadMode): boolean {
  return mode === 'streaming-signed-trailer' || mode === 'streaming-unsigned-trailer';
}

/** True for the aws-chunked payload modes. */
export function isChunked(mode: PayloadMode): boolean {
  return mode === 'streaming-signed' || hasTrailer(mode);
}

function single(headers: AuthRequest['headers'], name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v.join(',') : v;
}

function invalid(message: string): S3Error {
  return new S3Error('InvalidRequest', { message });
}

/**
 * Validates Content-MD5, x-amz-checksum-*, x-amz-trailer and x-amz-sdk-checksum-algorithm up front, so the gateway can
 * refuse a malformed upload before reading its body (and before `100 Continue`). Throws S3Error.
 */
export function readBodyExpectations(
  auth: AuthResult,
  headers: AuthRequest['headers'],
  defaultChecksumAlgorithm: ChecksumAlgorithm | undefined,
): BodyExpectations {
  let contentMd5: Buffer | undefined;
  const md5Text = single(headers, 'content-md5');
  if (md5Text !== undefined) {
    contentMd5 = Buffer.from(md5Text, 'base64');
    if (contentMd5.length !== 16 || contentMd5.toString('base64') !== md5Text.trim()) throw new S3Error('InvalidDigest');
  }

  const fromHeaders: { algorithm: ChecksumAlgorithm; value: string }[] = [];
  for (const algorithm of CHECKSUM_ALGORITHMS) {
    const name = checksumHeaderName(algorithm);
    const value = single(headers, name);
    if (value === undefined) continue;
    if (!isValidChecksumValue(algorithm, value.trim())) throw invalid(`Value for ${name} header is invalid.`);
    fromHeaders.push({ algorithm, value: value.trim() });
  }

  const declaredTrailers = new Set<string>();
  const trailerHeader = single(headers, 'x-amz-trailer');
  if (trailerHeader !== undefined) {
    if (!hasTrailer(auth.payloadMode)) {
      throw invalid('x-amz-trailer requires x-amz-content-sha256 STREAMING-UNSIGNED-PAYLOAD-TRAILER or STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER.');
    }
    for (const name of trailerHeader.split(',')) {
      const trimmed = name.trim().toLowerCase();
      if (trimmed === '') continue;
      if (checksumAlgorithmFromHeaderName(trimmed) === undefined) throw invalid('The value specified in the x-amz-trailer header is not supported');
      declaredTrailers.add(trimmed);
    }
  }
  const fromTrailers = [...declaredTrailers].map((name) => checksumAlgorithmFromHeaderName(name)!);
  if (fromHeaders.length + fromTrailers.length > 1) {
    throw invalid('Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.');
  }

  let checksum: BodyExpectations['checksum'];
  if (fromHeaders[0] !== undefined) checksum = { algorithm: fromHeaders[0].algorithm, source: 'header', headerValue: fromHeaders[0].value };
  else if (fromTrailers[0] !== undefined) checksum = { algorithm: fromTrailers[0], source: 'trailer', headerValue: undefined };

  const sdkAlgorithmText = single(headers, 'x-amz-sdk-checksum-algorithm');
  if (sdkAlgorithmText !== undefined) {
    const sdkAlgorithm = parseChecksumAlgorithm(sdkAlgorithmText);
    if (sdkAlgorithm === undefined) {
      throw invalid(`Checksum algorithm provided is unsupported. Please try again with any of the valid types: [${CHECKSUM_ALGORITHMS.join(', ')}]`);
    }
    if (checksum !== undefined && checksum.algorithm !== sdkAlgorithm) throw invalid('Value for x-amz-sdk-checksum-algorithm header is invalid.');
    // An algorithm without a value: store the checksum the client asked for rather than refusing it.
    checksum ??= { algorithm: sdkAlgorithm, source: 'computed', headerValue: undefined };
  }
  if (checksum === undefined && defaultChecksumAlgorithm !== undefined) {
    checksum = { algorithm: defaultChecksumAlgorithm, source: 'computed', headerValue: undefined };
  }

  const expectedSizeBytes = isChunked(auth.payloadMode)
    ? auth.decodedContentLength
    : parseByteCount('content-length', headers['content-length']);
  return { contentMd5, checksum, declaredTrailers, expectedSizeBytes };
}
