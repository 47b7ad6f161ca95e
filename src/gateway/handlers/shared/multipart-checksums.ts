import type { ObjectRecord, UploadInfo } from '../../../rpc/index.js';
import { header, type RequestContext } from '../../http/index.js';
import {
  CHECKSUM_ALGORITHMS,
  checksumAlgorithmFromHeaderName,
  checksumHeaderName,
  compositeChecksum,
  fullObjectChecksum,
  isCrcAlgorithm,
  parseChecksumAlgorithm,
  type ChecksumAlgorithm,
} from '../../s3/checksums/index.js';
import { S3Error } from '../../s3/index.js';

/** How a multipart object's checksum is built: from the parts' checksums, or as a CRC of the whole object. */
export type ChecksumType = 'COMPOSITE' | 'FULL_OBJECT';

function invalid(message: string): S3Error {
  return new S3Error('InvalidRequest', { message });
}

/**
 * CreateMultipartUpload's x-amz-checksum-algorithm and x-amz-checksum-type, checked as S3 does:
 * CRC64NVME exists only as FULL_OBJECT, SHA-1 and SHA-256 only as COMPOSITE, the 32-bit CRCs as
 * either (COMPOSITE unless asked). A type without an algorithm is refused.
 */
export function uploadChecksumOf(ctx: RequestContext<unknown>): { checksumAlgorithm?: ChecksumAlgorithm; checksumType?: ChecksumType } {
  const algorithmText = header(ctx, 'x-amz-checksum-algorithm');
  const typeText = header(ctx, 'x-amz-checksum-type')?.trim().toUpperCase();
  if (typeText !== undefined && typeText !== 'COMPOSITE' && typeText !== 'FULL_OBJECT') {
    throw invalid('Value for x-amz-checksum-type header is invalid.');
  }
  if (algorithmText === undefined) {
    if (typeText !== undefined) throw invalid('The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header.');
    return {};
  }
  const algorithm = parseChecksumAlgorithm(algorithmText);
  if (algorithm === undefined) {
    throw invalid(`Checksum algorithm provided is unsupported. Please try again with any of the valid types: [${CHECKSUM_ALGORITHMS.join(', ')}]`);
  }
  const type: ChecksumType = typeText ?? (algorithm === 'CRC64NVME' ? 'FULL_OBJECT' : 'COMPOSITE');
  if (type === 'FULL_OBJECT' && !isCrcAlgorithm(algorithm)) throw invalid(`The ${algorithm} checksum algorithm does not support the FULL_OBJECT checksum type.`);
  if (type === 'COMPOSITE' && algorithm === 'CRC64NVME') throw invalid('The CRC64NVME checksum algorithm does not support the COMPOSITE checksum type.');
  return { checksumAlgorithm: algorithm, checksumType: type };
}

/** The checksum algorithm a request body declares (header, trailer or x-amz-sdk-checksum-algorithm), if any. */
export function declaredBodyAlgorithm(ctx: RequestContext<unknown>): ChecksumAlgorithm | undefined {
  const sdk = header(ctx, 'x-amz-sdk-checksum-algorithm');
  if (sdk !== undefined) return parseChecksumAlgorithm(sdk);
  for (const name of Object.keys(ctx.request.headers)) {
    const algorithm = checksumAlgorithmFromHeaderName(name);
    if (algorithm !== undefined) return algorithm;
  }
  const trailer = header(ctx, 'x-amz-trailer');
  return trailer === undefined ? undefined : checksumAlgorithmFromHeaderName(trailer.split(',')[0]?.trim() ?? '');
}

/** A part must carry its upload's algorithm when the upload has one (S3 refuses a mismatch). */
export function checkPartAlgorithm(ctx: RequestContext<unknown>, upload: UploadInfo | undefined): ChecksumAlgorithm | undefined {
  const expected = upload?.checksumAlgorithm === undefined ? undefined : parseChecksumAlgorithm(upload.checksumAlgorithm);
  const declared = declaredBodyAlgorithm(ctx);
  if (expected !== undefined && declared !== undefined && declared !== expected) {
    throw invalid(`Checksum Type mismatch occurred, expected checksum Type: ${expected.toLowerCase()}, actual checksum Type: ${declared.toLowerCase()}`);
  }
  return expected;
}

/**
 * The object checksum of a completed upload: COMPOSITE `<base64 of the checksum of the part
 * checksums>-<N>`, or FULL_OBJECT, the CRC of the whole object combined from the parts' CRCs and sizes.
 * Undefined when the upload named no algorithm.
 */
export function completedChecksum(upload: UploadInfo, parts: readonly ObjectRecord[]): { algorithm: ChecksumAlgorithm; type: ChecksumType; value: string } | undefined {
  const algorithm = upload.checksumAlgorithm === undefined ? undefined : parseChecksumAlgorithm(upload.checksumAlgorithm);
  if (algorithm === undefined) return undefined;
  const type: ChecksumType = upload.checksumType ?? (algorithm === 'CRC64NVME' ? 'FULL_OBJECT' : 'COMPOSITE');
  const partValues = parts.map((part, i) => {
    const value = part.checksums[algorithm];
    if (value === undefined) throw invalid(`The upload was created using a ${algorithm.toLowerCase()} checksum. Part ${i + 1} of the request has none.`);
    return { base64: value, sizeBytes: part.sizeBytes };
  });
  const value =
    type === 'FULL_OBJECT' && isCrcAlgorithm(algorithm)
      ? fullObjectChecksum(algorithm, partValues)
      : compositeChecksum(algorithm, partValues.map((part) => part.base64));
  return { algorithm, type, value };
}

/**
 * The object-level checksum headers a client may send with CompleteMultipartUpload: the type must be
 * the upload's and a value must equal what the parts add up to, both checks of integrity that S3
 * answers with BadDigest.
 */
export function checkCompletionHeaders(ctx: RequestContext<unknown>, checksum: ReturnType<typeof completedChecksum>): void {
  const typeText = header(ctx, 'x-amz-checksum-type')?.trim().toUpperCase();
  if (typeText !== undefined && typeText !== (checksum?.type ?? typeText)) {
    throw new S3Error('BadDigest', { message: `The upload was created using the ${checksum?.type ?? ''} checksum mode. The complete request must use the same checksum mode.` });
  }
  for (const algorithm of CHECKSUM_ALGORITHMS) {
    const sent = header(ctx, checksumHeaderName(algorithm))?.trim();
    if (sent === undefined) continue;
    if (checksum === undefined || checksum.algorithm !== algorithm) {
      throw invalid(`The upload was created using ${checksum === undefined ? 'no' : `a ${checksum.algorithm.toLowerCase()}`} checksum; the complete request names ${algorithm.toLowerCase()}.`);
    }
    const bare = checksum.value.replace(/-\d+$/, '');
    if (sent !== checksum.value && sent !== bare) throw new S3Error('BadDigest', { message: `The ${algorithm.toLowerCase()} you specified did not match the calculated checksum.` });
  }
}

/** The request's headers without its x-amz-checksum-* values, which on completion describe the object, not the XML body. */
export function headersWithoutObjectChecksums(ctx: RequestContext<unknown>): Record<string, string | string[] | undefined> {
  const headers: Record<string, string | string[] | undefined> = {};
  for (const [name, value] of Object.entries(ctx.request.headers)) {
    if (checksumAlgorithmFromHeaderName(name) === undefined) headers[name] = value;
  }
  return headers;
}
