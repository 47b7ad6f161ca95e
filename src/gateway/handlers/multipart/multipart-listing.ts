import { bucketOwnerNamed, ownerElement } from '../shared/request-acl.js';
import { UPLOADS_BUCKET, uploadMarkerKey, uploadPartKey, uploadsIndexOf, type BucketRecord, type UploadInfo } from '../../../rpc/index.js';
import { isIndexed, listFromIndex, listObjects, ReadDeadline, type EncryptionDeps, type LifecycleDates, type ListedObject, type ListPathDeps, type ListRequest, type ListResult } from '../../data-path/index.js';
import { bucketOf, keyOf, type AccessDeps, type RequestContext } from '../../http/index.js';
import { compareUtf8, countParameter, listFieldEncoder, renderXml } from '../../s3/index.js';
import { ofThisBucket, requireUpload, uploadIdOf } from '../shared/upload-lookup.js';
import { setAbortHeaders } from '../shared/lifecycle-dates.js';
import { mayShowUploadChecksums } from '../shared/object-encryption.js';

const XML = 'application/xml';

function checksumFields(upload: UploadInfo | undefined): Record<string, string> {
  const fields: Record<string, string> = {};
  if (upload?.checksumAlgorithm !== undefined) fields['ChecksumAlgorithm'] = upload.checksumAlgorithm;
  if (upload?.checksumType !== undefined) fields['ChecksumType'] = upload.checksumType;
  return fields;
}

/** ListParts: the upload's parts in part-number order, paged by part-number-marker and max-parts. */
export async function listParts(ctx: RequestContext<ListPathDeps & LifecycleDates & EncryptionDeps & AccessDeps>): Promise<void> {
  const bucket = bucketOf(ctx);
  const key = keyOf(ctx);
  const uploadId = uploadIdOf(ctx);
  const marker = countParameter('part-number-marker', ctx.target.query.get('part-number-marker'), 0, 10_000);
  const maxParts = countParameter('max-parts', ctx.target.query.get('max-parts'), 1000, 1000);
  const uploadMarker = await requireUpload(ctx, bucket, key, uploadId);
  const upload = uploadMarker.upload;
  const showChecksums = mayShowUploadChecksums(ctx, uploadMarker.encryption, upload);
  const initiator = ownerElement(ctx, await bucketOwnerNamed(ctx, bucket), uploadMarker);
  const bucketRecord = await ctx.services.buckets.require(bucket, ctx.signal);
  if (upload !== undefined) setAbortHeaders(ctx, bucketRecord, key, upload.initiatedMs);
  const prefix = `${uploadMarkerKey(bucket, uploadId)}/`;
  const page = await uploadsPage(ctx, bucketRecord, { bucket: UPLOADS_BUCKET, prefix, delimiter: '', after: marker > 0 ? uploadPartKey(bucket, uploadId, marker) : '', afterIsPrefix: false, maxKeys: maxParts });
  const parts = page.objects.map((record) => ({
    PartNumber: Number(record.key.slice(prefix.length)),
    LastModified: new Date(record.lastModifiedMs).toISOString(),
    ETag: record.etag,
    Size: record.sizeBytes,
    ...(showChecksums ? Object.fromEntries(Object.entries(record.checksums).map(([algorithm, value]) => [`Checksum${algorithm}`, value])) : {}),
  }));
  await ctx.reply.type(XML).send(
    renderXml('ListPartsResult', {
      Bucket: bucket,
      Key: key,
      UploadId: uploadId,
      Initiator: initiator,
      Owner: initiator,
      StorageClass: 'STANDARD',
      PartNumberMarker: marker,
      NextPartNumberMarker: parts.at(-1)?.PartNumber ?? marker,
      MaxParts: maxParts,
      IsTruncated: page.isTruncated,
      ...checksumFields(upload),
      Part: parts,
    }),
  );
}

/**
 * A page of a bucket's keys of the uploads bucket (`request` names a prefix under `<bucket>/`): from
 * the bucket's uploads index when it has one (a read quorum of one shard's replicas), otherwise from
 * every node's keys.
 */
async function uploadsPage(ctx: RequestContext<ListPathDeps>, bucket: BucketRecord, request: ListRequest): Promise<ListResult<ListedObject>> {
  const index = uploadsIndexOf(bucket);
  if (isIndexed(index)) return listFromIndex(ctx, index, request, ReadDeadline.of(ctx));
  return listObjects(ctx.services.cluster.allNodes(), request, ctx.services.erasure.parityShards, ctx.signal, () => ctx.services.metadataTimeoutMs, ReadDeadline.of(ctx));
}

/** An upload's marker as a listing shows it. */
type ListedUpload = Pick<ListedObject, 'key' | 'owner'> & { upload: UploadInfo };

/**
 * Every in-progress upload of a bucket. Markers live under `<bucket>/` of the internal bucket in
 * upload-id order, so S3's key order needs them all: the cost grows with the number of uploads in
 * progress (their parts are skipped as common prefixes, which the index seeks past), which is small in practice.
 */
async function uploadsOf(ctx: RequestContext<ListPathDeps>, bucket: BucketRecord): Promise<ListedUpload[]> {
  const uploads: ListedUpload[] = [];
  const request: ListRequest = { bucket: UPLOADS_BUCKET, prefix: `${bucket.name}/`, delimiter: '/', after: '', afterIsPrefix: false, maxKeys: 1000 };
  for (;;) {
    const page = await uploadsPage(ctx, bucket, request);
    for (const record of page.objects) if (record.upload !== undefined) uploads.push({ key: record.key, ...(record.owner === undefined ? {} : { owner: record.owner }), upload: record.upload });
    if (!page.isTruncated || page.next === undefined) return uploads;
    request.after = page.next.after;
    request.afterIsPrefix = page.next.afterIsPrefix;
  }
}

type UploadEntry = { upload: ListedUpload; uploadId: string } | { prefix: string };

/** ListMultipartUploads: in-progress uploads by key, then initiation; prefix, delimiter, markers and max-uploads as S3. */
export async function listMultipartUploads(ctx: RequestContext<ListPathDeps & AccessDeps>): Promise<void> {
  const bucket = bucketOf(ctx);
  const bucketOwner = await bucketOwnerNamed(ctx, bucket);
  const { query } = ctx.target;
  const encode = listFieldEncoder(query.get('encoding-type'));
  const prefix = query.get('prefix') ?? '';
  const delimiter = query.get('delimiter') ?? '';
  const keyMarker = query.get('key-marker') ?? '';
  // S3 ignores upload-id-marker without key-marker.
  const uploadIdMarker = keyMarker === '' ? '' : query.get('upload-id-marker') ?? '';
  const maxUploads = countParameter('max-uploads', ctx.target.query.get('max-uploads'), 1000, 1000);
  const bucketRecord = await ctx.services.buckets.require(bucket, ctx.signal);
  const uploads = (await uploadsOf(ctx, bucketRecord))
    .map((upload) => ({ upload, uploadId: upload.key.slice(bucket.length + 1) }))
    .filter(({ upload }) => upload.upload.key.startsWith(prefix) && ofThisBucket(upload.upload, bucketRecord))
    .sort((a, b) => compareUtf8(a.upload.upload.key, b.upload.upload.key) || (a.uploadId < b.uploadId ? -1 : 1));
  const entries: UploadEntry[] = [];
  for (const entry of uploads) {
    const key = entry.upload.upload.key;
    const at = delimiter === '' ? -1 : key.indexOf(delimiter, prefix.length);
    if (at >= 0) {
      const rolled = key.slice(0, at + delimiter.length);
      const last = entries.at(-1);
      if (last === undefined || !('prefix' in last) || last.prefix !== rolled) entries.push({ prefix: rolled });
    } else {
      entries.push(entry);
    }
  }
  const after = entries.filter((entry) => {
    if (keyMarker === '') return true;
    if ('prefix' in entry) return compareUtf8(entry.prefix, keyMarker) > 0;
    const order = compareUtf8(entry.upload.upload.key, keyMarker);
    return order > 0 || (order === 0 && uploadIdMarker !== '' && entry.uploadId > uploadIdMarker);
  });
  const page = after.slice(0, maxUploads);
  // A max-uploads of 0 is an empty page that is not truncated, as for every listing: there is no marker to go on from.
  const isTruncated = maxUploads > 0 && after.length > page.length;
  const last = page.at(-1);
  const body: Record<string, unknown> = {
    Bucket: bucket,
    KeyMarker: encode(keyMarker),
    UploadIdMarker: uploadIdMarker,
  };
  if (isTruncated && last !== undefined) {
    body['NextKeyMarker'] = encode('prefix' in last ? last.prefix : last.upload.upload.key);
    body['NextUploadIdMarker'] = 'prefix' in last ? '' : last.uploadId;
  }
  if (delimiter !== '') body['Delimiter'] = encode(delimiter);
  body['Prefix'] = encode(prefix);
  body['MaxUploads'] = maxUploads;
  body['IsTruncated'] = isTruncated;
  body['Upload'] = page.flatMap((entry) =>
    'prefix' in entry
      ? []
      : [
          {
            Key: encode(entry.upload.upload.key),
            UploadId: entry.uploadId,
            Initiator: ownerElement(ctx, bucketOwner, entry.upload),
            Owner: ownerElement(ctx, bucketOwner, entry.upload),
            StorageClass: 'STANDARD',
            Initiated: new Date(entry.upload.upload.initiatedMs).toISOString(),
            ...checksumFields(entry.upload.upload),
          },
        ],
  );
  body['CommonPrefixes'] = page.flatMap((entry) => ('prefix' in entry ? [{ Prefix: encode(entry.prefix) }] : []));
  if (query.get('encoding-type') === 'url') body['EncodingType'] = 'url';
  await ctx.reply.type(XML).send(renderXml('ListMultipartUploadsResult', body));
}
