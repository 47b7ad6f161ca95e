import type { EncryptionDeps, LookupDeps } from '../../data-path/index.js';
import { bucketOf, header, keyOf, type AccessDeps, type RequestContext } from '../../http/index.js';
import { countParameter, S3Error, renderXml, versionIdParam } from '../../s3/index.js';
import { requireVersion, setVersionHeader } from '../shared/current-version.js';
import { readSseOf } from '../shared/object-encryption.js';
import { checkReadConditions } from '../shared/preconditions.js';

const ATTRIBUTES = new Set(['ETag', 'Checksum', 'ObjectParts', 'StorageClass', 'ObjectSize']);
const MAX_PARTS = 1000;

function invalidArgument(message: string, name: string, value: string): S3Error {
  return new S3Error('InvalidArgument', { message, fields: { ArgumentName: name, ArgumentValue: value } });
}

/** The attributes x-amz-object-attributes asks for; S3 refuses an empty list and unknown names. */
function requestedAttributes(ctx: RequestContext<unknown>): Set<string> {
  const text = header(ctx, 'x-amz-object-attributes') ?? '';
  const names = text.split(',').map((name) => name.trim()).filter((name) => name !== '');
  if (names.length === 0) throw invalidArgument('Empty Object Attributes', 'x-amz-object-attributes', text);
  for (const name of names) if (!ATTRIBUTES.has(name)) throw invalidArgument('Invalid attribute name specified.', 'x-amz-object-attributes', name);
  return new Set(names);
}

/**
 * GetObjectAttributes of the version asked for (`versionId`, else the current one): its ETag (unquoted,
 * as S3 gives it here), stored checksums, parts (paged by x-amz-max-parts and x-amz-part-number-marker,
 * with each part's checksum when the upload had one), storage class and size: only the attributes
 * asked for.
 */
export async function getObjectAttributes(ctx: RequestContext<LookupDeps & EncryptionDeps & AccessDeps>): Promise<void> {
  const bucket = bucketOf(ctx);
  const key = keyOf(ctx);
  const wanted = requestedAttributes(ctx);
  const maxParts = countParameter('x-amz-max-parts', header(ctx, 'x-amz-max-parts'), MAX_PARTS, MAX_PARTS);
  // Not capped: the answer echoes the marker as sent.
  const marker = countParameter('x-amz-part-number-marker', header(ctx, 'x-amz-part-number-marker'), 0, Number.MAX_SAFE_INTEGER);
  const versionId = versionIdParam(ctx.target.query.get('versionId'), key);
  await ctx.services.buckets.require(bucket, ctx.signal);
  const { record } = await requireVersion(ctx, bucket, key, versionId);
  // As for HeadObject: an SSE-C object's attributes (its checksums are of the plaintext) need its key.
  ctx.services.sealer.checkAccess(record.encryption, readSseOf(ctx));
  checkReadConditions(ctx, record);
  const body: Record<string, unknown> = {};
  if (wanted.has('ETag')) body['ETag'] = record.etag.replace(/^"|"$/g, '');
  const checksums = Object.entries(record.checksums);
  if (wanted.has('Checksum') && checksums.length > 0) {
    // A composite checksum is stored as GET, HEAD and the completion answer it, with `-N` (the part
    // count); S3 leaves that suffix out here, where ObjectParts tells the count.
    body['Checksum'] = {
      ...Object.fromEntries(checksums.map(([algorithm, value]) => [`Checksum${algorithm}`, value.replace(/-\d+$/, '')])),
      ChecksumType: record.checksumType ?? 'FULL_OBJECT',
    };
  }
  if (wanted.has('ObjectParts') && record.parts !== undefined) {
    const after = record.parts.filter((part) => part.partNumber > marker);
    const page = after.slice(0, maxParts);
    const composite = record.checksumType === 'COMPOSITE';
    body['ObjectParts'] = {
      PartsCount: record.parts.length,
      PartNumberMarker: marker,
      NextPartNumberMarker: page.at(-1)?.partNumber ?? marker,
      MaxParts: maxParts,
      IsTruncated: after.length > page.length,
      Part: page.map((part) => ({
        PartNumber: part.partNumber,
        Size: part.sizeBytes,
        ...(composite ? Object.fromEntries(Object.entries(part.checksums ?? {}).map(([algorithm, value]) => [`Checksum${algorithm}`, value])) : {}),
      })),
    };
  }
  if (wanted.has('StorageClass')) body['StorageClass'] = 'STANDARD';
  if (wanted.has('ObjectSize')) body['ObjectSize'] = record.sizeBytes;
  ctx.reply.header('last-modified', new Date(record.lastModifiedMs).toUTCString());
  setVersionHeader(ctx, versionId, record);
  await ctx.reply.type('application/xml').send(renderXml('GetObjectAttributesResponse', body));
}
