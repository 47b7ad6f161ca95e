import fc from 'fast-check';
import { t } from 'tap';
import { listBucketResultXml, listVersionsResultXml, type ListBucketPage, type ListedFields, type ListedVersionFields, type ListVersionsPage } from '../../src/gateway/handlers/bucket/list-documents.js';
import { listFieldEncoder, parseXml, renderXml, s3VersionId } from '../../src/gateway/s3/index.js';

/**
 * The listing documents are written element by element rather than built as an object tree and
 * rendered; these properties prove they are byte for byte what the tree renderer writes for the same
 * page, so no client sees a difference.
 */

// Text a key or owner may hold: markup, quotes, CR, controls XML 1.0 forbids, U+FFFE, and plain UTF-8.
const text = fc.string({ unit: fc.constantFrom('a', 'Z', '0', '/', ' ', '&', '<', '>', '"', "'", '\r', '\n', '\t', '\u0001', '\u001f', '\uFFFE', 'é', '日', '%', '+'), maxLength: 12 });
const checksums = fc.constantFrom<Record<string, string>>({}, { CRC32: 'AAAAAA==' }, { CRC64NVME: 'AAAAAAAAAAA=', SHA256: 'x' });
const listed: fc.Arbitrary<ListedFields> = fc.record(
  {
    key: text,
    lastModifiedMs: fc.integer({ min: 0, max: 4_102_444_800_000 }),
    etag: fc.constantFrom('"d41d8cd98f00b204e9800998ecf8427e"', '"0f343b0931126a20f133d67c2b018a3b-3"'),
    sizeBytes: fc.integer({ min: 0, max: 2 ** 40 }),
    checksums,
    checksumType: fc.constantFrom('COMPOSITE' as const, 'FULL_OBJECT' as const),
    owner: text,
  },
  { requiredKeys: ['key', 'lastModifiedMs', 'etag', 'sizeBytes', 'checksums'] },
);
const common = {
  bucket: fc.constantFrom('data', 'a.b-c'),
  prefix: text,
  delimiter: fc.constantFrom('', '/', '&'),
  maxKeys: fc.integer({ min: 0, max: 1000 }),
  isTruncated: fc.boolean(),
  urlEncoded: fc.boolean(),
  commonPrefixes: fc.array(text, { maxLength: 4 }),
};
const ownerOf = (record: ListedFields): { ID: string; DisplayName: string } => ({ ID: record.owner ?? 'owner-of-bucket', DisplayName: `name <${record.owner ?? ''}>` });

/** The tree the handler built before the documents were written directly. */
function bucketTree(page: ListBucketPage): Record<string, unknown> {
  const { encode } = page;
  const body: Record<string, unknown> = { Name: page.bucket, Prefix: encode(page.prefix) };
  if (page.v2) {
    if (page.startAfter !== '') body['StartAfter'] = encode(page.startAfter);
    if (page.continuation !== undefined) body['ContinuationToken'] = page.continuation;
    if (page.next !== undefined) body['NextContinuationToken'] = page.next;
    body['KeyCount'] = page.objects.length + page.commonPrefixes.length;
  } else {
    body['Marker'] = encode(page.startAfter);
    if (page.next !== undefined) body['NextMarker'] = encode(page.next);
  }
  body['MaxKeys'] = page.maxKeys;
  if (page.delimiter !== '') body['Delimiter'] = encode(page.delimiter);
  if (page.urlEncoded) body['EncodingType'] = 'url';
  body['IsTruncated'] = page.isTruncated;
  body['Contents'] = page.objects.map((record) => ({
    Key: encode(record.key),
    LastModified: new Date(record.lastModifiedMs).toISOString(),
    ETag: record.etag,
    ...checksumTree(record),
    Size: record.sizeBytes,
    ...(page.fetchOwner ? { Owner: page.ownerOf(record) } : {}),
    StorageClass: 'STANDARD',
  }));
  body['CommonPrefixes'] = page.commonPrefixes.map((p) => ({ Prefix: encode(p) }));
  return body;
}

function checksumTree(record: ListedFields): Record<string, string> {
  const algorithm = Object.keys(record.checksums)[0];
  return algorithm === undefined ? {} : { ChecksumAlgorithm: algorithm, ChecksumType: record.checksumType ?? 'FULL_OBJECT' };
}

function versionsTree(page: ListVersionsPage): Record<string, unknown> {
  const { encode } = page;
  const body: Record<string, unknown> = { Name: page.bucket, Prefix: encode(page.prefix), KeyMarker: encode(page.keyMarker), VersionIdMarker: page.versionIdMarker };
  if (page.next !== undefined) {
    body['NextKeyMarker'] = encode(page.next.key);
    if (page.next.version !== undefined) body['NextVersionIdMarker'] = s3VersionId(page.next.version);
  }
  body['MaxKeys'] = page.maxKeys;
  if (page.delimiter !== '') body['Delimiter'] = encode(page.delimiter);
  if (page.urlEncoded) body['EncodingType'] = 'url';
  body['IsTruncated'] = page.isTruncated;
  const versions: Record<string, unknown>[] = [];
  const markers: Record<string, unknown>[] = [];
  for (const { record, isLatest } of page.versions) {
    const shared = { Key: encode(record.key), VersionId: s3VersionId(record), IsLatest: isLatest, LastModified: new Date(record.lastModifiedMs).toISOString() };
    if (record.deleted) markers.push({ Owner: page.ownerOf(record), ...shared });
    else versions.push({ ...shared, ETag: record.etag, ...checksumTree(record), Size: record.sizeBytes, Owner: page.ownerOf(record), StorageClass: 'STANDARD' });
  }
  body['Version'] = versions;
  body['DeleteMarker'] = markers;
  body['CommonPrefixes'] = page.commonPrefixes.map((p) => ({ Prefix: encode(p) }));
  return body;
}

const bucketPage = fc
  .record({
    ...common,
    v2: fc.boolean(),
    startAfter: text,
    continuation: fc.option(fc.constantFrom('', 'WyJhIiwwXQ'), { nil: undefined }),
    next: fc.option(text, { nil: undefined }),
    fetchOwner: fc.boolean(),
    objects: fc.array(listed, { maxLength: 6 }),
  })
  .map(({ urlEncoded, ...page }): ListBucketPage => ({ ...page, urlEncoded, encode: listFieldEncoder(urlEncoded ? 'url' : undefined), ownerOf }));

const versionRecord = fc
  .record(
    { fields: listed, versionId: fc.constantFrom('00000000000000000001a', 'null'), versioning: fc.constantFrom('Enabled' as const, 'Suspended' as const), deleted: fc.boolean() },
    { requiredKeys: ['fields', 'versionId', 'deleted'] },
  )
  .map(({ fields, ...rest }): ListedVersionFields => ({ ...fields, ...rest }));

const versionsPage = fc
  .record({
    ...common,
    keyMarker: text,
    versionIdMarker: fc.constantFrom('', '00000000000000000001a'),
    next: fc.option(fc.record({ key: text, version: fc.option(versionRecord, { nil: undefined }) }), { nil: undefined }),
    versions: fc.array(fc.record({ record: versionRecord, isLatest: fc.boolean() }), { maxLength: 6 }),
  })
  .map(({ urlEncoded, ...page }): ListVersionsPage => ({ ...page, urlEncoded, encode: listFieldEncoder(urlEncoded ? 'url' : undefined), ownerOf }));

t.test('a ListBucketResult page is byte for byte what the tree renderer writes for it', (t) => {
  t.doesNotThrow(() => fc.assert(fc.property(bucketPage, (page) => listBucketResultXml(page) === renderXml('ListBucketResult', bucketTree(page))), { numRuns: 500 }));
  t.end();
});

t.test('a ListVersionsResult page is byte for byte what the tree renderer writes for it', (t) => {
  t.doesNotThrow(() => fc.assert(fc.property(versionsPage, (page) => listVersionsResultXml(page) === renderXml('ListVersionsResult', versionsTree(page))), { numRuns: 500 }));
  t.end();
});

t.test('a listed key holding markup and controls reads back as the key', (t) => {
  const key = 'a&b<c>"d\'\r\u0001e\uFFFF';
  const page: ListBucketPage = {
    bucket: 'data',
    v2: true,
    prefix: '',
    delimiter: '',
    startAfter: '',
    continuation: undefined,
    next: undefined,
    maxKeys: 1000,
    isTruncated: false,
    encode: listFieldEncoder(undefined),
    urlEncoded: false,
    fetchOwner: false,
    ownerOf,
    objects: [{ key, lastModifiedMs: 0, etag: '"x"', sizeBytes: 1, checksums: {} }],
    commonPrefixes: [],
  };
  const xml = listBucketResultXml(page);
  t.match(xml, '<Key>a&amp;b&lt;c&gt;&quot;d&apos;&#xD;&#x1;e&#xFFFF;</Key>');
  const parsed = parseXml(xml) as { ListBucketResult: { Contents: { Key: string } } };
  t.equal(parsed.ListBucketResult.Contents.Key, key);
  t.end();
});
