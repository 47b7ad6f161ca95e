import type { ObjectRecord } from '../../../rpc/index.js';
import { s3VersionId, XmlWriter } from '../../s3/index.js';

/** The owner a listing shows for an entry. */
export interface ListedOwner {
  ID: string;
  DisplayName: string;
}

/** What a listing shows of an object version. */
export type ListedFields = Pick<ObjectRecord, 'key' | 'lastModifiedMs' | 'etag' | 'sizeBytes' | 'checksums' | 'checksumType' | 'owner'>;

/** A listed version: the fields, and what its version id and delete-marker state come from. */
export type ListedVersionFields = ListedFields & Pick<ObjectRecord, 'versionId' | 'versioning' | 'deleted'>;

/** The fields of a listing page every listing document shares. */
interface PageCommon {
  bucket: string;
  prefix: string;
  delimiter: string;
  maxKeys: number;
  isTruncated: boolean;
  /** The field encoder `encoding-type` asked for (listFieldEncoder). */
  encode: (value: string) => string;
  /** Whether `encoding-type=url` was asked for, which the document echoes. */
  urlEncoded: boolean;
  commonPrefixes: readonly string[];
  /** The owner each entry shows. */
  ownerOf: (record: ListedFields) => ListedOwner;
}

/** A ListObjects (v1) or ListObjectsV2 page. */
export interface ListBucketPage extends PageCommon {
  v2: boolean;
  /** StartAfter (v2) or Marker (v1), as the client sent it ('' when absent). */
  startAfter: string;
  /** v2: the ContinuationToken the client sent. */
  continuation: string | undefined;
  /** v2: the token of the next page; v1: the key of NextMarker. Undefined when there is none. */
  next: string | undefined;
  /** Whether entries show their owner (always on v1; `fetch-owner=true` on v2). */
  fetchOwner: boolean;
  objects: readonly ListedFields[];
}

/** A ListObjectVersions page. */
export interface ListVersionsPage extends PageCommon {
  keyMarker: string;
  versionIdMarker: string;
  /** Where the next page starts, when the page is truncated. */
  next: { key: string; version: Pick<ObjectRecord, 'versionId' | 'versioning'> | undefined } | undefined;
  versions: readonly { record: ListedVersionFields; isLatest: boolean }[];
}

/** ChecksumAlgorithm and ChecksumType of a listed object, when it has a checksum (S3 lists them since 2025). */
function checksumFields(out: XmlWriter, record: ListedFields): void {
  const algorithm = Object.keys(record.checksums)[0];
  if (algorithm !== undefined) out.field('ChecksumAlgorithm', algorithm).field('ChecksumType', record.checksumType ?? 'FULL_OBJECT');
}

function ownerElement(out: XmlWriter, owner: ListedOwner): void {
  out.open('Owner').field('ID', owner.ID).field('DisplayName', owner.DisplayName).close('Owner');
}

function commonPrefixElements(out: XmlWriter, page: PageCommon): void {
  for (const prefix of page.commonPrefixes) out.open('CommonPrefixes').field('Prefix', page.encode(prefix)).close('CommonPrefixes');
}

/** The ListBucketResult document of a ListObjects or ListObjectsV2 page. */
export function listBucketResultXml(page: ListBucketPage): string {
  const { encode } = page;
  const out = new XmlWriter('ListBucketResult').field('Name', page.bucket).field('Prefix', encode(page.prefix));
  if (page.v2) {
    if (page.startAfter !== '') out.field('StartAfter', encode(page.startAfter));
    if (page.continuation !== undefined) out.field('ContinuationToken', page.continuation);
    if (page.next !== undefined) out.field('NextContinuationToken', page.next);
    out.field('KeyCount', page.objects.length + page.commonPrefixes.length);
  } else {
    out.field('Marker', encode(page.startAfter));
    if (page.next !== undefined) out.field('NextMarker', encode(page.next));
  }
  out.field('MaxKeys', page.maxKeys);
  if (page.delimiter !== '') out.field('Delimiter', encode(page.delimiter));
  if (page.urlEncoded) out.field('EncodingType', 'url');
  out.field('IsTruncated', page.isTruncated);
  for (const record of page.objects) {
    out.open('Contents').field('Key', encode(record.key)).field('LastModified', new Date(record.lastModifiedMs).toISOString()).field('ETag', record.etag);
    checksumFields(out, record);
    out.field('Size', record.sizeBytes);
    if (page.fetchOwner) ownerElement(out, page.ownerOf(record));
    out.field('StorageClass', 'STANDARD').close('Contents');
  }
  commonPrefixElements(out, page);
  return out.end();
}

/**
 * The ListVersionsResult document of a ListObjectVersions page: the versions, then the delete
 * markers, each in the page's order (clients read the two lists apart).
 */
export function listVersionsResultXml(page: ListVersionsPage): string {
  const { encode } = page;
  const out = new XmlWriter('ListVersionsResult')
    .field('Name', page.bucket)
    .field('Prefix', encode(page.prefix))
    .field('KeyMarker', encode(page.keyMarker))
    .field('VersionIdMarker', page.versionIdMarker);
  if (page.next !== undefined) {
    out.field('NextKeyMarker', encode(page.next.key));
    if (page.next.version !== undefined) out.field('NextVersionIdMarker', s3VersionId(page.next.version));
  }
  out.field('MaxKeys', page.maxKeys);
  if (page.delimiter !== '') out.field('Delimiter', encode(page.delimiter));
  if (page.urlEncoded) out.field('EncodingType', 'url');
  out.field('IsTruncated', page.isTruncated);
  const common = (record: ListedVersionFields, isLatest: boolean): void => {
    out.field('Key', encode(record.key)).field('VersionId', s3VersionId(record)).field('IsLatest', isLatest).field('LastModified', new Date(record.lastModifiedMs).toISOString());
  };
  for (const { record, isLatest } of page.versions) {
    if (record.deleted) continue;
    out.open('Version');
    common(record, isLatest);
    out.field('ETag', record.etag);
    checksumFields(out, record);
    out.field('Size', record.sizeBytes);
    ownerElement(out, page.ownerOf(record));
    out.field('StorageClass', 'STANDARD').close('Version');
  }
  for (const { record, isLatest } of page.versions) {
    if (!record.deleted) continue;
    out.open('DeleteMarker');
    ownerElement(out, page.ownerOf(record));
    common(record, isLatest);
    out.close('DeleteMarker');
  }
  commonPrefixElements(out, page);
  return out.end();
}
