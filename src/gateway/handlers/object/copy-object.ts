import type { ObjectRecord } from '../../../rpc/index.js';
import {
  openStoredObject,
  type EncryptionDeps,
  type LifecycleDates,
  type LookupDeps,
  type ReadPathDeps,
  type ResolvedVersion,
  type VersionAttributes,
  type WritePathDeps,
} from '../../data-path/index.js';
import { bucketOf, bucketOwnerOf, expectedOwnerMatches, header, keyOf, requireObjectAccess, type AccessDeps, type RequestContext } from '../../http/index.js';
import { parseChecksumAlgorithm, type ChecksumAlgorithm } from '../../s3/checksums/index.js';
import { copySourceRange, parseCopySource, parseTaggingHeader, renderXml, S3Error, versionIdParam, type CopySource } from '../../s3/index.js';
import { COPY_SOURCE_SSE_C_PREFIX, type SseRequest } from '../../encryption/index.js';
import { readVersion, requireVersion, setVersionHeader, setWrittenVersionHeader } from '../shared/current-version.js';
import { checkQuota } from '../shared/bucket-quota.js';
import { setExpirationHeader } from '../shared/lifecycle-dates.js';
import { checkPartAlgorithm } from '../shared/multipart-checksums.js';
import { attributesOf } from '../shared/object-attributes.js';
import { objectLockFields } from '../shared/object-lock-fields.js';
import { readSseOf, requestedSseOf, setSseHeaders, writeSseOf } from '../shared/object-encryption.js';
import { objectAclFields } from '../shared/request-acl.js';
import { checkCopySourceConditions, checkWritePreconditions, writePreconditionsOf } from '../shared/preconditions.js';
import { partNumberOf, requireNotCompleting, requireUpload, uploadIdOf } from '../shared/upload-lookup.js';
import { storedBody, writeObject, writePart } from '../shared/upload-body.js';
import { changeOf } from '../shared/change-origin.js';

/**
 * Opens the copy source: its current (or named) version after its bucket, READ permission, SSE-C key
 * (the x-amz-copy-source-server-side-encryption-customer-* headers) and x-amz-copy-source-if-* checks,
 * then the bytes `rangeOf` picks from it, streamed through the normal read path. Like a GET, a source
 * read that races an overwrite of the source looks again (readVersion).
 */
async function openSource(
  ctx: RequestContext<ReadPathDeps & AccessDeps>,
  source: CopySource,
  sourceSse: SseRequest,
  rangeOf: (record: ObjectRecord) => { start: number; length: number },
): Promise<{ version: ResolvedVersion; body: AsyncGenerator<Uint8Array> }> {
  const { services } = ctx;
  const sourceBucket = await services.buckets.require(source.bucket, ctx.signal);
  // x-amz-source-expected-bucket-owner: the copy reads nothing from a source bucket of another owner.
  const expectedSourceOwner = header(ctx, 'x-amz-source-expected-bucket-owner');
  if (expectedSourceOwner !== undefined && !expectedOwnerMatches(expectedSourceOwner, bucketOwnerOf(ctx, sourceBucket))) throw new S3Error('AccessDenied');
  const versionId = versionIdParam(source.versionId, source.key);
  const { version, opened } = await readVersion(
    ctx,
    () => requireCopySource(ctx, source.bucket, source.key, versionId),
    (found) => {
      // Reading the source needs READ on it, as a GetObject would: s3:GetObjectVersion when it names a version.
      // Checked first: whether the source is SSE-C encrypted is not told to someone who may not read it.
      requireObjectAccess(ctx, sourceBucket, found.record, 'READ', source.versionId === undefined ? 's3:GetObject' : 's3:GetObjectVersion');
      services.sealer.checkAccess(found.record.encryption, sourceSse);
      checkCopySourceConditions(ctx, found.record);
      const { start, length } = rangeOf(found.record);
      return openStoredObject(services, found, start, length, {
        codec: services.codec,
        signal: ctx.signal,
        stallTimeoutMs: services.stallTimeoutMs,
        logger: ctx.request.log,
        dataKeyOf: (field) => services.sealer.dataKey(field, sourceSse),
      });
    },
  );
  return { version, body: opened };
}

/**
 * The source version a copy names. A delete marker named by its id is no copy source: S3 answers 400
 * there, where a GET of it is 405 with the marker's headers.
 */
async function requireCopySource(ctx: RequestContext<LookupDeps & AccessDeps>, bucket: string, key: string, versionId: string | undefined): Promise<ResolvedVersion> {
  try {
    return await requireVersion(ctx, bucket, key, versionId, { source: true });
  } catch (err) {
    if (!(err instanceof S3Error && err.code === 'MethodNotAllowed')) throw err;
    throw new S3Error('InvalidRequest', { message: 'The source of a copy request may not specifically refer to a delete marker by version id.' });
  }
}

function directiveOf(ctx: RequestContext<unknown>, name: 'x-amz-metadata-directive' | 'x-amz-tagging-directive'): 'COPY' | 'REPLACE' {
  const value = header(ctx, name)?.trim().toUpperCase() ?? 'COPY';
  if (value !== 'COPY' && value !== 'REPLACE') {
    throw new S3Error('InvalidArgument', {
      message: name === 'x-amz-metadata-directive' ? 'Unknown metadata directive.' : 'Unknown tagging directive.',
      fields: { ArgumentName: name, ArgumentValue: value },
    });
  }
  return value;
}

/** x-amz-checksum-algorithm of a copy, if given. */
function requestedAlgorithm(ctx: RequestContext<unknown>): ChecksumAlgorithm | undefined {
  const text = header(ctx, 'x-amz-checksum-algorithm');
  if (text === undefined) return undefined;
  const algorithm = parseChecksumAlgorithm(text);
  if (algorithm === undefined) throw new S3Error('InvalidRequest', { message: 'Value for x-amz-checksum-algorithm header is invalid.' });
  return algorithm;
}

/** CopyObjectResult / CopyPartResult fields; only an object names its checksum type. */
function copyResult(record: ObjectRecord, withType: boolean): Record<string, unknown> {
  const result: Record<string, unknown> = { ETag: record.etag, LastModified: new Date(record.lastModifiedMs).toISOString() };
  const checksums = Object.entries(record.checksums);
  for (const [algorithm, value] of checksums) result[`Checksum${algorithm}`] = value;
  if (withType && checksums.length > 0) result['ChecksumType'] = record.checksumType ?? 'FULL_OBJECT';
  return result;
}

/**
 * CopyObject, within or across buckets: the source streams through the normal read path into the
 * normal write path, so nothing is buffered and the copy is a new version like any PUT. Metadata and
 * tags come from the source (COPY) or the request (REPLACE); copying onto itself needs a change
 * (REPLACE, a storage class, a checksum algorithm or encryption).
 */
export async function copyObject(ctx: RequestContext<WritePathDeps & LifecycleDates & EncryptionDeps & AccessDeps>): Promise<void> {
  const bucket = bucketOf(ctx);
  const key = keyOf(ctx);
  const source = parseCopySource(header(ctx, 'x-amz-copy-source') ?? '');
  const metadataDirective = directiveOf(ctx, 'x-amz-metadata-directive');
  const taggingDirective = directiveOf(ctx, 'x-amz-tagging-directive');
  const algorithm = requestedAlgorithm(ctx);
  const preconditions = writePreconditionsOf(ctx);
  const requestAttributes = metadataDirective === 'REPLACE' ? attributesOf(ctx) : undefined;
  const requestTags = taggingDirective === 'REPLACE' ? parseTaggingHeader(header(ctx, 'x-amz-tagging')) : undefined;
  const sourceSse = readSseOf(ctx, COPY_SOURCE_SSE_C_PREFIX);
  const targetBucket = await ctx.services.buckets.require(bucket, ctx.signal);
  // The copy is encrypted as its own request says (or the target bucket's default), whatever the source was.
  const targetSse = await writeSseOf(ctx, targetBucket);
  const requestedSse = requestedSseOf(ctx);
  // A copy of a named version onto its own key is how a previous version is restored; only the current
  // object copied onto itself unchanged is refused. S3 counts naming a storage class as a change, even
  // the one the object has (there is only STANDARD here): tools rewrite an object in place that way.
  const ontoItself = source.bucket === bucket && source.key === key && source.versionId === undefined;
  const changesStorageClass = header(ctx, 'x-amz-storage-class') !== undefined;
  if (ontoItself && metadataDirective !== 'REPLACE' && !changesStorageClass && algorithm === undefined && requestedSse.kind === 'none') {
    throw new S3Error('InvalidRequest', {
      message: "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
    });
  }
  const aclFields = objectAclFields(ctx, targetBucket);
  // The source's lock does not travel: the copy is locked as its own request or the bucket's default says.
  const lockFields = objectLockFields(ctx, targetBucket, { withBody: false });
  // The whole source, under the same 5 GiB limit as a part copy's range.
  const { version, body } = await openSource(ctx, source, sourceSse, (record) => copySourceRange(undefined, record.sizeBytes));
  const from = version.record;
  try {
    if (preconditions !== undefined) await checkWritePreconditions(ctx, bucket, key, preconditions);
    // The source's size is known: a copy past the target's quota is refused before any byte moves.
    await checkQuota(ctx, targetBucket, { objects: 1, bytes: from.sizeBytes });
  } catch (err) {
    await body.return(undefined);
    throw err;
  }
  const attributes: VersionAttributes = {
    contentType: requestAttributes?.contentType ?? from.contentType,
    userMetadata: requestAttributes?.userMetadata ?? from.userMetadata,
    headers: requestAttributes?.headers ?? from.headers,
    tags: requestTags ?? from.tags ?? {},
    // The copy is a new object of the requester's: the source's ACL does not travel with it.
    ...aclFields,
    ...lockFields,
  };
  // The copy keeps the source's checksum algorithm (as a whole-object checksum) unless asked for another.
  const checksumAlgorithm = algorithm ?? Object.keys(from.checksums).map((name) => parseChecksumAlgorithm(name)).find((a) => a !== undefined);
  const encryption = ctx.services.sealer.forBody(targetSse);
  const change = changeOf(ctx, targetBucket, 's3:ObjectCreated:Copy', key, { tags: attributes.tags });
  const record = await writeObject(ctx, bucket, key, attributes, storedBody(ctx, body, checksumAlgorithm), { encryption, preconditions, change, bucketRecord: targetBucket });
  setSseHeaders(ctx, record.encryption, targetSse, true);
  setVersionHeader(ctx, source.versionId, from, 'x-amz-copy-source-version-id');
  setWrittenVersionHeader(ctx, record);
  setExpirationHeader(ctx, targetBucket, record);
  await ctx.reply.type('application/xml').send(renderXml('CopyObjectResult', copyResult(record, true)));
}

/** UploadPartCopy: a part whose bytes are (a range of) an existing object, streamed like CopyObject. */
export async function uploadPartCopy(ctx: RequestContext<WritePathDeps & EncryptionDeps & AccessDeps>): Promise<void> {
  const bucket = bucketOf(ctx);
  const key = keyOf(ctx);
  const uploadId = uploadIdOf(ctx);
  const partNumber = partNumberOf(ctx);
  const source = parseCopySource(header(ctx, 'x-amz-copy-source') ?? '');
  const sourceSse = readSseOf(ctx, COPY_SOURCE_SSE_C_PREFIX);
  const partSse = readSseOf(ctx);
  const rangeHeader = header(ctx, 'x-amz-copy-source-range');
  const marker = await requireUpload(ctx, bucket, key, uploadId);
  requireNotCompleting(marker);
  const checksumAlgorithm = checkPartAlgorithm(ctx, marker.upload);
  // The part is sealed with the upload's data key; an SSE-C upload needs its key on every part.
  ctx.services.sealer.checkAccess(marker.encryption, partSse);
  const { version, body } = await openSource(ctx, source, sourceSse, (record) => copySourceRange(rangeHeader, record.sizeBytes));
  const encryption = marker.encryption === undefined ? undefined : ctx.services.sealer.forBody(partSse, marker.encryption);
  const record = await writePart(ctx, { bucket, key, uploadId, partNumber }, storedBody(ctx, body, checksumAlgorithm), encryption);
  setSseHeaders(ctx, record.encryption, partSse);
  setVersionHeader(ctx, source.versionId, version.record, 'x-amz-copy-source-version-id');
  await ctx.reply.type('application/xml').send(renderXml('CopyPartResult', copyResult(record, false)));
}
