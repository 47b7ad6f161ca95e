import type { VersionAttributes } from '../../data-path/index.js';
import { header, type RequestContext } from '../../http/index.js';
import { decodeMetadataValue, parseTaggingHeader, S3Error } from '../../s3/index.js';

/** S3's limit on the total size of user metadata (names plus values). */
const MAX_USER_METADATA_BYTES = 2048;
/** Response headers S3 stores with an object and returns on GET/HEAD. */
export const STORED_HEADERS = ['cache-control', 'content-disposition', 'content-encoding', 'content-language', 'expires'] as const;

function userMetadataOf(ctx: RequestContext<unknown>): Record<string, string> {
  const metadata: Record<string, string> = {};
  let bytes = 0;
  for (const [name, value] of Object.entries(ctx.request.headers)) {
    if (!name.startsWith('x-amz-meta-') || value === undefined) continue;
    const text = decodeMetadataValue(Array.isArray(value) ? value.join(',') : value);
    const short = name.slice('x-amz-meta-'.length);
    bytes += Buffer.byteLength(short) + Buffer.byteLength(text);
    metadata[short] = text;
  }
  if (bytes > MAX_USER_METADATA_BYTES) {
    throw new S3Error('MetadataTooLarge', { fields: { MaxSizeAllowed: String(MAX_USER_METADATA_BYTES) } });
  }
  return metadata;
}

function storedHeadersOf(ctx: RequestContext<unknown>): Record<string, string> {
  const stored: Record<string, string> = {};
  for (const name of STORED_HEADERS) {
    let value = header(ctx, name);
    // aws-chunked is transfer framing, never a property of the object; the rest is kept as sent.
    if (name === 'content-encoding' && value !== undefined && /(^|,)\s*aws-chunked\s*(,|$)/i.test(value)) {
      value = value.split(',').filter((part) => part.trim().toLowerCase() !== 'aws-chunked' && part.trim() !== '').join(',').trim();
    }
    if (value !== undefined && value !== '') stored[name] = value;
  }
  return stored;
}

/** Content-Type, x-amz-meta-*, the stored response headers and x-amz-tagging of a write request. */
export function attributesOf(ctx: RequestContext<unknown>): VersionAttributes {
  return {
    // An empty Content-Type is as good as none: S3's default.
    contentType: header(ctx, 'content-type') || 'binary/octet-stream',
    userMetadata: userMetadataOf(ctx),
    headers: storedHeadersOf(ctx),
    tags: parseTaggingHeader(header(ctx, 'x-amz-tagging')),
  };
}
