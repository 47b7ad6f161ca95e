import { createHash } from 'node:crypto';
import pLimit from 'p-limit';
import { UPLOADS_BUCKET, isNewerVersion, uploadMarkerKey, uploadPartKey, type BucketRecord, type ObjectRecord, type PartRef, type UploadInfo } from '../../../rpc/index.js';
import {
  acquireKeyLease,
  commitPlainRecord,
  commitRecord,
  holdKeyLease,
  listVersions,
  metadataSignal,
  ReadDeadline,
  resolveVersion,
  stampOf,
  type BodyDigests,
  type BucketAdminDeps,
  type EncryptionDeps,
  type HeldLease,
  type LifecycleDates,
  type LookupDeps,
  type PendingChange,
  type RecordWriteDeps,
  type UploadLimits,
} from '../../data-path/index.js';
import { bucketOf, header, keyOf, readSmallBody, type AccessDeps, type RequestContext } from '../../http/index.js';
import { CHECKSUM_ALGORITHMS } from '../../s3/checksums/index.js';
import { defaultRetentionAt, objectLocation, renderXml, requestDocumentRoot, S3Error } from '../../s3/index.js';
import { setWrittenVersionHeader } from '../shared/current-version.js';
import { checkQuota } from '../shared/bucket-quota.js';
import { checkCompletionHeaders, completedChecksum, headersWithoutObjectChecksums } from '../shared/multipart-checksums.js';
import { setExpirationHeader } from '../shared/lifecycle-dates.js';
import { mayShowUploadChecksums, readSseOf, setSseHeaders } from '../shared/object-encryption.js';
import { checkWritePreconditions, writePreconditionsOf, type WritePreconditions } from '../shared/preconditions.js';
import { closingMarker } from './closing-marker.js';
import { findUpload, uploadIdOf } from '../shared/upload-lookup.js';
import { changeOf } from '../shared/change-origin.js';
import { existingReplica } from '../shared/replica-request.js';

// CompleteMultipartUpload: the parts it lists checked, its manifest committed on the object's key, and
// the upload closed (multipart.ts describes how an upload is stored).

/** Most parts an upload may have, and a completion may list. */
const MAX_PARTS = 10_000;
/** Part lookups a completion has in flight at once. */
const PART_LOOKUP_CONCURRENCY = 64;
const XML = 'application/xml';

/** Answers a completion of an upload that is closed as completed (`closed`, its closing marker), as S3 answered the first time. */
async function answerCompleted(
  ctx: RequestContext<EncryptionDeps>,
  bucket: string,
  key: string,
  closed: ObjectRecord & { upload: UploadInfo },
  sse: ReturnType<typeof readSseOf>,
): Promise<void> {
  const { upload } = closed;
  if (sse.kind !== 'none') ctx.services.sealer.checkAccess(closed.encryption, sse);
  const checksum = mayShowUploadChecksums(ctx, closed.encryption, upload, sse) ? upload.manifestChecksum : undefined;
  setSseHeaders(ctx, closed.encryption, sse);
  if (upload.manifestVersionId !== undefined) setWrittenVersionHeader(ctx, { versionId: upload.manifestVersionId, versioning: upload.manifestVersioning });
  await ctx.reply.type(XML).send(completionResult(ctx, bucket, key, upload.manifestEtag ?? '', checksum));
}

/**
 * The manifest a completion of the upload of `marker` wrote, if any: a version of the upload's key,
 * newer than the marker (the completion's intent), whose parts are this upload's. Read from a version
 * listing of the key, newest first, down to the marker's id.
 */
async function manifestSince(ctx: RequestContext<LookupDeps>, marker: ObjectRecord & { upload: UploadInfo }): Promise<ObjectRecord | null> {
  const { bucket, key } = marker.upload;
  const partsOfUpload = `${marker.key}/`;
  let from: { after: string; afterVersion: string | undefined } = { after: '', afterVersion: undefined };
  for (;;) {
    const page = await listVersions(
      ctx.services.cluster.allNodes(),
      { bucket, prefix: key, delimiter: '', after: from.after, afterVersion: from.afterVersion, afterIsPrefix: false, maxKeys: 100 },
      ctx.services.erasure.parityShards,
      metadataSignal(ctx),
      () => ctx.services.metadataTimeoutMs,
      ReadDeadline.of(ctx),
    );
    for (const { record } of page.versions) {
      // The key's own versions come first (a key sorts before the keys it is a prefix of), newest first.
      if (record.key !== key || isNewerVersion(marker.versionId, record.versionId)) return null;
      if (record.parts?.[0]?.key.startsWith(partsOfUpload) === true) return record;
    }
    if (!page.isTruncated || page.next === undefined) return null;
    from = { after: page.next.key, afterVersion: page.next.version?.versionId };
  }
}

interface RequestedPart {
  partNumber: number;
  etag: string;
  /** Checksums the client lists for the part, by algorithm. */
  checksums: Record<string, string>;
}

function requestedParts(text: string): RequestedPart[] {
  const root = requestDocumentRoot(text, 'CompleteMultipartUpload');
  const parts = (root as { Part?: unknown }).Part;
  const list = parts === undefined ? [] : Array.isArray(parts) ? parts : [parts];
  if (list.length === 0) throw new S3Error('MalformedXML');
  return list.map((entry) => {
    const fields = (entry ?? {}) as Record<string, unknown>;
    const { PartNumber: number, ETag: etag } = fields;
    if (typeof number !== 'string' || !/^-?\d+$/.test(number.trim()) || typeof etag !== 'string') throw new S3Error('MalformedXML');
    const partNumber = Number(number.trim());
    // S3 answers a part number outside 1..10,000 in the list as it does on UploadPart's query.
    if (partNumber < 1) throw new S3Error('InvalidArgument', { message: 'PartNumber must be >= 1', fields: { ArgumentName: 'PartNumber', ArgumentValue: number.trim() } });
    if (partNumber > MAX_PARTS) {
      throw new S3Error('InvalidArgument', { message: `PartNumber must be <= ${MAX_PARTS}`, fields: { ArgumentName: 'PartNumber', ArgumentValue: number.trim() } });
    }
    const checksums: Record<string, string> = {};
    for (const algorithm of CHECKSUM_ALGORITHMS) {
      const value = fields[`Checksum${algorithm}`];
      if (typeof value === 'string') checksums[algorithm] = value.trim();
    }
    return { partNumber, etag: normaliseEtag(etag), checksums };
  });
}

/**
 * `x-amz-mp-object-size`: the object size the client expects from its parts (the AWS transfer managers
 * send it so that a part lost or listed twice fails the completion). A mismatch is S3's InvalidRequest.
 */
function checkDeclaredSize(ctx: RequestContext<unknown>, stored: readonly ObjectRecord[]): void {
  const declared = header(ctx, 'x-amz-mp-object-size');
  if (declared === undefined) return;
  if (!/^\d{1,16}$/.test(declared.trim())) {
    throw new S3Error('InvalidArgument', { message: 'The x-amz-mp-object-size header value is not valid.', fields: { ArgumentName: 'x-amz-mp-object-size', ArgumentValue: declared } });
  }
  const sizeBytes = stored.reduce((sum, record) => sum + record.sizeBytes, 0);
  if (Number(declared.trim()) !== sizeBytes) {
    throw new S3Error('InvalidRequest', { message: `The provided 'x-amz-mp-object-size' header value ${declared.trim()} does not match what was computed: ${sizeBytes}` });
  }
}

function normaliseEtag(etag: string): string {
  const bare = etag.trim().replace(/^"|"$/g, '');
  return `"${bare}"`;
}

/** The stored parts a completion names, checked as S3 does: each exists with that ETag (and checksum), in order, big enough. */
async function completedParts(ctx: RequestContext<LookupDeps & UploadLimits>, bucket: string, uploadId: string, requested: readonly RequestedPart[]): Promise<ObjectRecord[]> {
  for (let i = 1; i < requested.length; i += 1) {
    if ((requested[i] as RequestedPart).partNumber <= (requested[i - 1] as RequestedPart).partNumber) throw new S3Error('InvalidPartOrder');
  }
  if (requested.length > MAX_PARTS) throw new S3Error('InvalidArgument', { message: `Part count must not exceed ${MAX_PARTS}`, fields: { ArgumentName: 'Part' } });
  // Thousands of parts: a bounded number of lookups at a time (each asks every node of the part's set).
  const limit = pLimit(PART_LOOKUP_CONCURRENCY);
  const stored = await Promise.all(
    requested.map((part) =>
      limit(async () => {
        const partKeyName = uploadPartKey(bucket, uploadId, part.partNumber);
        const sets = ctx.services.cluster.readSets(UPLOADS_BUCKET, partKeyName);
        const version = await resolveVersion(sets, UPLOADS_BUCKET, partKeyName, ctx.services.erasure, metadataSignal(ctx));
        const matches =
          version !== null &&
          !version.record.deleted &&
          version.record.etag === part.etag &&
          Object.entries(part.checksums).every(([algorithm, value]) => version.record.checksums[algorithm] === value);
        if (!matches) throw new S3Error('InvalidPart', { fields: { PartNumber: String(part.partNumber), ETag: part.etag } });
        return version.record;
      }),
    ),
  );
  const minPartBytes = ctx.services.minPartSizeBytes;
  stored.forEach((record, i) => {
    if (i < stored.length - 1 && record.sizeBytes < minPartBytes) {
      throw new S3Error('EntityTooSmall', { fields: { ProposedSize: String(record.sizeBytes), MinSizeAllowed: String(minPartBytes) } });
    }
  });
  return stored;
}

/** The answer S3 gives a completion, first time or retried. */
function completionResult(ctx: RequestContext<unknown>, bucket: string, key: string, etag: string, checksum?: { algorithm: string; value: string; type: string }): string {
  const location = objectLocation({
    protocol: ctx.request.protocol === 'https' ? 'https' : 'http',
    host: ctx.request.headers.host ?? ctx.request.hostname,
    bucket,
    key,
    virtualHosted: ctx.target.virtualHosted,
  });
  const result: Record<string, unknown> = { Location: location, Bucket: bucket, Key: key, ETag: etag };
  if (checksum !== undefined) {
    result[`Checksum${checksum.algorithm}`] = checksum.value;
    result['ChecksumType'] = checksum.type;
  }
  return renderXml('CompleteMultipartUploadResult', result);
}

/**
 * CompleteMultipartUpload: checks the listed parts and writes the manifest; S3's ETag of MD5s of MD5s
 * and, when the upload named an algorithm, its COMPOSITE or FULL_OBJECT checksum. Honours
 * `If-None-Match: *` and `If-Match` on the destination key (see checkWritePreconditions).
 */
export async function completeMultipartUpload(ctx: RequestContext<RecordWriteDeps & BodyDigests & UploadLimits & BucketAdminDeps & EncryptionDeps>): Promise<void> {
  const bucket = bucketOf(ctx);
  const key = keyOf(ctx);
  const uploadId = uploadIdOf(ctx);
  const preconditions = writePreconditionsOf(ctx);
  const body = await readSmallBody(ctx, 4 * 1024 * 1024, headersWithoutObjectChecksums(ctx));
  const requested = requestedParts(body.toString('utf8'));
  const sse = readSseOf(ctx);
  // Held until the closing marker is committed: no part commits meanwhile (partCommitGuard), and a
  // second completion of the upload waits, then finds it completed and answers as this one did.
  const uploadLease = await holdKeyLease(ctx, UPLOADS_BUCKET, uploadMarkerKey(bucket, uploadId), 'This upload is being completed or written; please retry.');
  try {
    await completeHeld(ctx, bucket, key, uploadId, requested, preconditions, sse, uploadLease);
  } finally {
    await uploadLease.release();
  }
}

/** An open upload's marker record. */
type UploadMarker = ObjectRecord & { upload: UploadInfo };

/**
 * The completion's stages, under the upload's lease: settle a retried or interrupted completion, check
 * the listed parts and the write's preconditions, build the manifest, commit it, close the upload.
 */
async function completeHeld(
  ctx: RequestContext<RecordWriteDeps & LifecycleDates & UploadLimits & EncryptionDeps & AccessDeps>,
  bucket: string,
  key: string,
  uploadId: string,
  requested: RequestedPart[],
  preconditions: WritePreconditions | undefined,
  sse: ReturnType<typeof readSseOf>,
  uploadLease: HeldLease,
): Promise<void> {
  const marker = await openOrSettled(ctx, bucket, key, uploadId, sse, uploadLease);
  if (marker === undefined) return;
  if (await settledReplica(ctx, bucket, key, marker)) return;
  // S3 asks for the SSE-C key here only when the upload named a checksum algorithm (the answer carries
  // the plaintext's checksum); one that is offered must be the upload's.
  if (sse.kind !== 'none') ctx.services.sealer.checkAccess(marker.encryption, sse);
  const showChecksum = mayShowUploadChecksums(ctx, marker.encryption, marker.upload, sse);
  const stored = await completedParts(ctx, bucket, uploadId, requested);
  checkDeclaredSize(ctx, stored);
  const checksum = completedChecksum(marker.upload, stored);
  checkCompletionHeaders(ctx, checksum);
  if (preconditions !== undefined) await checkWritePreconditions(ctx, bucket, key, preconditions);
  const bucketRecord = await ctx.services.buckets.require(bucket, ctx.signal);
  // The parts were each checked as they came; the whole object is checked before it becomes visible.
  await checkQuota(ctx, bucketRecord, { objects: 1, bytes: stored.reduce((sum, part) => sum + part.sizeBytes, 0) }, { reserve: true });
  const manifest = manifestOf(ctx, { bucket, key }, marker, requested, stored, checksum, bucketRecord);
  // A replica's own changes never replicate again (loop prevention).
  const change = changeOf(ctx, bucketRecord, 's3:ObjectCreated:CompleteMultipartUpload', key, { tags: manifest.tags, replicates: marker.replicationStatus !== 'REPLICA' });
  await commitManifest(ctx, marker, manifest, { preconditions, change }, uploadLease);
  await commitRecord(ctx, closingMarker(ctx, marker, 'completed', manifest));
  setSseHeaders(ctx, marker.encryption, sse);
  setWrittenVersionHeader(ctx, manifest);
  setExpirationHeader(ctx, bucketRecord, manifest);
  await ctx.reply.type(XML).send(completionResult(ctx, bucket, key, manifest.etag, showChecksum ? checksum : undefined));
}

/**
 * Whether the upload is another cluster's replica of a version the key holds already (a delivery
 * retried after its answer was lost): the upload is closed as aborted (its parts are garbage), and
 * the completion answered with that version, as a PutObject of it is.
 */
async function settledReplica(ctx: RequestContext<RecordWriteDeps>, bucket: string, key: string, marker: UploadMarker): Promise<boolean> {
  const existing = await existingReplica(ctx, bucket, key, { versionId: marker.upload.replicaVersionId });
  if (existing === null) return false;
  await commitRecord(ctx, closingMarker(ctx, marker, 'aborted'));
  setWrittenVersionHeader(ctx, existing);
  await ctx.reply.type(XML).send(completionResult(ctx, bucket, key, existing.etag, undefined));
  return true;
}

/**
 * The upload's marker when it is open and still to be completed. A retry of a completion that
 * succeeded (its answer was lost), or one that an earlier completion left written but not closed, is
 * answered here as the first time (undefined); NoSuchUpload when there is no such open upload.
 */
async function openOrSettled(
  ctx: RequestContext<RecordWriteDeps & EncryptionDeps>,
  bucket: string,
  key: string,
  uploadId: string,
  sse: ReturnType<typeof readSseOf>,
  uploadLease: HeldLease,
): Promise<UploadMarker | undefined> {
  const found = await findUpload(ctx, bucket, key, uploadId);
  if (found !== null && found.upload.closed === 'completed' && found.upload.manifestEtag !== undefined) {
    // A retry of a completion that succeeded (its answer was lost): S3 answers as it did the first time.
    await answerCompleted(ctx, bucket, key, found, sse);
    return undefined;
  }
  if (found === null || found.deleted || found.upload.closed !== undefined) throw new S3Error('NoSuchUpload', { fields: { UploadId: uploadId } });
  if (found.upload.completing !== true) return found;
  // A completion stopped between its intent and its closing marker (its gateway died). When it wrote
  // the manifest, the upload is complete: closed as that completion would have, answered as a retry.
  const written = await manifestSince(ctx, found);
  if (written === null) return found;
  uploadLease.check();
  const closing = closingMarker(ctx, found, 'completed', written);
  await commitRecord(ctx, closing);
  await answerCompleted(ctx, bucket, key, closing, sse);
  return undefined;
}

/** The completed object's manifest: the marker's attributes, the parts in order, S3's ETag of MD5s of MD5s. */
function manifestOf(
  ctx: RequestContext<Pick<RecordWriteDeps, 'clock' | 'erasure'>>,
  target: { bucket: string; key: string },
  marker: UploadMarker,
  requested: readonly RequestedPart[],
  stored: readonly ObjectRecord[],
  checksum: ReturnType<typeof completedChecksum>,
  bucketRecord: BucketRecord,
): ObjectRecord {
  const parts: PartRef[] = stored.map((record, i) => ({
    partNumber: (requested[i] as RequestedPart).partNumber,
    bucket: record.bucket,
    key: record.key,
    versionId: record.versionId,
    sizeBytes: record.sizeBytes,
    etag: record.etag,
    checksums: record.checksums,
  }));
  const retention = marker.retention ?? defaultRetentionAt(bucketRecord.objectLock, Date.now());
  const md5s = Buffer.concat(stored.map((record) => Buffer.from(record.etag.slice(1, -1), 'hex')));
  return {
    ...target,
    versionId: ctx.services.clock.next(),
    deleted: false,
    sizeBytes: parts.reduce((sum, part) => sum + part.sizeBytes, 0),
    etag: `"${createHash('md5').update(md5s).digest('hex')}-${parts.length}"`,
    lastModifiedMs: ctx.services.clock.nowMs(),
    contentType: marker.contentType,
    userMetadata: marker.userMetadata,
    headers: marker.headers,
    ...(marker.tags === undefined ? {} : { tags: marker.tags }),
    ...(marker.owner === undefined ? {} : { owner: marker.owner }),
    ...(marker.grants === undefined ? {} : { grants: marker.grants }),
    ...(retention === undefined ? {} : { retention }),
    ...(marker.legalHold === undefined ? {} : { legalHold: marker.legalHold }),
    ...(marker.replicationStatus === 'REPLICA' ? { replicationStatus: 'REPLICA' as const } : {}),
    checksums: checksum === undefined ? {} : { [checksum.algorithm]: checksum.value },
    ...(checksum === undefined ? {} : { checksumType: checksum.type }),
    erasure: ctx.services.erasure,
    parts,
    ...stampOf(bucketRecord),
    ...(marker.encryption === undefined ? {} : { encryption: marker.encryption }),
  };
}

/**
 * Marks the upload completing and commits the manifest under the key's lease: a plain completion under
 * the shared lease (a conditional write's check sees it), a conditional one under the exclusive lease
 * after checking its preconditions again, so its check and commit are atomic; one whose condition
 * fails leaves the upload open as it was. The manifest's commit carries the note of `change`, the
 * completion's event, when the bucket's notification configurations select it.
 */
async function commitManifest(
  ctx: RequestContext<RecordWriteDeps & AccessDeps>,
  marker: UploadMarker,
  manifest: ObjectRecord,
  options: { preconditions: WritePreconditions | undefined; change: PendingChange | undefined },
  uploadLease: HeldLease,
): Promise<void> {
  const { bucket, key } = manifest;
  const { preconditions, change } = options;
  // The version id orders by commit: taken after the parts were checked and the key's lease taken, so
  // a PUT that completes while this completion is still checking its parts is older than it.
  // A replica's upload names the version id it completes under (observed: the id may come from another gateway's request).
  const replicaVersionId = marker.upload.replicaVersionId;
  if (replicaVersionId !== undefined) ctx.services.clock.observe(replicaVersionId);
  const stampVersion = (): ObjectRecord => {
    manifest.versionId = replicaVersionId ?? ctx.services.clock.next();
    manifest.lastModifiedMs = ctx.services.clock.nowMs();
    return manifest;
  };
  // The intent comes right before the manifest: once that is written, its parts must not be replaced,
  // even if this gateway stops before the closing marker (part writes refuse a completing upload).
  const markCompleting = async (): Promise<void> => {
    if (marker.upload.completing === true) return;
    uploadLease.check();
    await commitRecord(ctx, { ...marker, versionId: ctx.services.clock.next(), upload: { ...marker.upload, completing: true } });
  };
  if (preconditions === undefined) {
    await markCompleting();
    // The parts read above stay the upload's only while its lease has been held throughout.
    uploadLease.check();
    await commitPlainRecord(ctx, bucket, key, stampVersion, change);
    return;
  }
  const lease = await acquireKeyLease(ctx, bucket, key);
  try {
    await checkWritePreconditions(ctx, bucket, key, preconditions, lease.current);
    await markCompleting();
    uploadLease.check();
    await commitRecord(ctx, stampVersion(), { change });
  } finally {
    await lease.release(manifest.versionId);
  }
}
