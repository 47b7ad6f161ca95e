import type { ObjectRecord } from '../../rpc/index.js';
import { storeVersion, type VersionAttributes, type WriteVersionOptions } from '../data-path/index.js';
import { decodedBody, header, type RequestContext } from '../http/index.js';
import { S3Error } from '../s3/index.js';

/** Largest single PUT (and copy source) S3 accepts; larger objects need multipart upload. */
export const MAX_PUT_BYTES = 5 * 1024 ** 3;

/**
 * Streams the verified request body into a new version of bucket/key and commits it on a write quorum.
 * Used for whole objects and for multipart parts (which live under an internal bucket).
 */
export async function writeBody(
  ctx: RequestContext,
  bucket: string,
  key: string,
  attributes: VersionAttributes,
  options: WriteVersionOptions = {},
): Promise<ObjectRecord> {
  const raw = ctx.auth.decodedContentLength ?? header(ctx, 'content-length');
  const declared = raw === undefined ? undefined : Number(raw);
  if (declared !== undefined && declared > MAX_PUT_BYTES) {
    throw new S3Error('EntityTooLarge', { fields: { MaxSizeAllowed: String(MAX_PUT_BYTES) } });
  }
  const { decoder, done } = decodedBody(ctx, options.checksumAlgorithm === undefined ? {} : { defaultChecksumAlgorithm: options.checksumAlgorithm });
  const record = await storeVersion(ctx, bucket, key, attributes, decoder, async (sizeBytes) => {
    await done;
    if (declared !== undefined && sizeBytes !== declared) throw new S3Error('IncompleteBody');
    return decoder.result();
  }, { ...options, expectedSizeBytes: declared });
  return record;
}

/** The stored flexible checksums as response headers; an object (not a part) also names its x-amz-checksum-type. */
export function setChecksumHeaders(ctx: RequestContext, record: ObjectRecord, withType: boolean): void {
  const entries = Object.entries(record.checksums);
  for (const [algorithm, value] of entries) ctx.reply.header(`x-amz-checksum-${algorithm.toLowerCase()}`, value);
  if (withType && entries.length > 0) ctx.reply.header('x-amz-checksum-type', record.checksumType ?? 'FULL_OBJECT');
}
