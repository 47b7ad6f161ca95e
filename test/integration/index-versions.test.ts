import {
  DeleteObjectCommand,
  ListObjectVersionsCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  type ListObjectVersionsCommandOutput,
  type S3Client,
} from '@aws-sdk/client-s3';
import { t } from 'tap';
import { formatVersionId } from '../../src/common/index.js';
import type { IndexOp } from '../../src/rpc/index.js';
import { bucketOn, startCluster, unindexedBucketOn, type TestCluster } from '../helpers/cluster.js';

/**
 * ListObjectVersions of an indexed bucket (read from its index, docs/bucket-index.md) answers as the
 * listing that merges every node's versions does, for the same writes: overwrites before versioning,
 * versions, delete markers, deletes by id, suspended versioning and the null versions it writes.
 */

/** One bucket's side of the comparison: its client, and each version id it was given, by a name both buckets share. */
interface Side {
  s3: S3Client;
  bucket: string;
  labels: Map<string, string>;
}

async function sideOf(made: Promise<{ s3: S3Client; bucket: string }>): Promise<Side> {
  const { s3, bucket } = await made;
  return { s3, bucket, labels: new Map() };
}

/** The same writes and deletes on both buckets; version ids are remembered under `label`. */
async function both(sides: readonly Side[], step: (side: Side) => Promise<string | undefined>, label: string): Promise<void> {
  for (const side of sides) {
    const versionId = await step(side);
    if (versionId !== undefined && versionId !== 'null') side.labels.set(versionId, label);
  }
}

const put = (key: string, body: string) => async (side: Side) => (await side.s3.send(new PutObjectCommand({ Bucket: side.bucket, Key: key, Body: body }))).VersionId;
const remove = (key: string) => async (side: Side) => (await side.s3.send(new DeleteObjectCommand({ Bucket: side.bucket, Key: key }))).VersionId;
const versioning = (status: 'Enabled' | 'Suspended') => async (side: Side) => {
  await side.s3.send(new PutBucketVersioningCommand({ Bucket: side.bucket, VersioningConfiguration: { Status: status } }));
  return undefined;
};
/** Deletes by id the version remembered under `label`. */
const removeVersion = (key: string, label: string) => async (side: Side) => {
  const versionId = [...side.labels].find(([, name]) => name === label)?.[0];
  if (versionId === undefined) throw new Error(`no version ${label}`);
  await side.s3.send(new DeleteObjectCommand({ Bucket: side.bucket, Key: key, VersionId: versionId }));
  return undefined;
};

/** A page as text both buckets' answers can be compared in: version ids by their labels. */
function pageText(side: Side, page: ListObjectVersionsCommandOutput): string[] {
  const name = (versionId: string | undefined): string => (versionId === undefined || versionId === 'null' ? String(versionId) : (side.labels.get(versionId) ?? `unknown ${versionId}`));
  const rows = [
    ...(page.Versions ?? []).map((v) => ({ key: v.Key ?? '', text: `${v.Key}@${name(v.VersionId)}${v.IsLatest === true ? ' latest' : ''} ${v.Size} ${v.ETag}` })),
    ...(page.DeleteMarkers ?? []).map((m) => ({ key: m.Key ?? '', text: `${m.Key}@${name(m.VersionId)}${m.IsLatest === true ? ' latest' : ''} marker` })),
  ];
  return [
    ...rows.map((row) => row.text),
    ...(page.CommonPrefixes ?? []).map((p) => `prefix ${p.Prefix}`),
    `truncated ${page.IsTruncated === true} next ${page.NextKeyMarker ?? '-'} ${page.IsTruncated === true ? name(page.NextVersionIdMarker) : '-'}`,
  ];
}

/** Every page of a version listing, each as pageText, paginated by KeyMarker and VersionIdMarker. */
async function allPages(side: Side, options: { prefix?: string; delimiter?: string; maxKeys: number }): Promise<string[][]> {
  const pages: string[][] = [];
  let keyMarker: string | undefined;
  let versionIdMarker: string | undefined;
  for (let guard = 0; guard < 200; guard += 1) {
    const page = await side.s3.send(
      new ListObjectVersionsCommand({ Bucket: side.bucket, Prefix: options.prefix, Delimiter: options.delimiter, MaxKeys: options.maxKeys, KeyMarker: keyMarker, VersionIdMarker: versionIdMarker }),
    );
    pages.push(pageText(side, page));
    if (page.IsTruncated !== true) return pages;
    keyMarker = page.NextKeyMarker;
    versionIdMarker = page.NextVersionIdMarker;
  }
  throw new Error('the listing did not end');
}

/** One cluster for the file, a bucket (or two) per test; the test that stops a node runs last. */
const cluster: TestCluster = await startCluster({ nodeHealing: false });
t.teardown(() => cluster.close());

t.test('ListObjectVersions of an indexed bucket answers as the node-merge listing of an unindexed one', async (t) => {
  const indexed = await sideOf(bucketOn(cluster));
  const unindexed = await sideOf(unindexedBucketOn(cluster));
  const sides = [indexed, unindexed];

  // Before versioning: overwrites replace the key's only version.
  await both(sides, put('a/1', 'one'), 'a1-u1');
  await both(sides, put('a/1', 'one again'), 'a1-u2');
  await both(sides, put('a/2', 'two'), 'a2-u');
  await both(sides, put('b', 'bee'), 'b-u');
  await both(sides, put('top/x/y', 'deep'), 'deep-u');
  await both(sides, put('gone-u', 'soon deleted'), 'gone-u');
  await both(sides, remove('gone-u'), 'gone-u-delete');
  // Versioning on: versions pile up, deletes leave markers, deletes by id remove one version.
  await both(sides, versioning('Enabled'), '');
  for (const n of [1, 2, 3]) await both(sides, put('a/1', `v${n}`), `a1-e${n}`);
  await both(sides, put('b', 'bee 2'), 'b-e1');
  await both(sides, remove('b'), 'b-marker1');
  await both(sides, put('c', 'sea'), 'c-e1');
  await both(sides, put('c', 'sea 2'), 'c-e2');
  await both(sides, removeVersion('c', 'c-e2'), '');
  await both(sides, put('d/e', 'dee'), 'de-e1');
  await both(sides, put('d/e', 'dee 2'), 'de-e2');
  // Suspended: writes are null versions, each replacing the key's older null version.
  await both(sides, versioning('Suspended'), '');
  await both(sides, put('a/1', 'null 1'), 'a1-s1');
  await both(sides, put('a/1', 'null 2'), 'a1-s2');
  await both(sides, remove('b'), 'b-null-marker');
  await both(sides, put('e', 'ee'), 'e-s');
  // Enabled again, and a version in the middle deleted by id.
  await both(sides, versioning('Enabled'), '');
  await both(sides, put('a/1', 'v4'), 'a1-e4');
  await both(sides, removeVersion('a/1', 'a1-e2'), '');

  const whole = await allPages(indexed, { maxKeys: 1000 });
  const versionsOfA1 = (whole[0] ?? []).filter((row) => row.startsWith('a/1@')).map((row) => row.split(' ')[0]);
  t.same(versionsOfA1, ['a/1@a1-e4', 'a/1@null', 'a/1@a1-e3', 'a/1@a1-e1'], 'a/1: newest first, one null version, the version deleted by id gone');
  t.same(
    (whole[0] ?? []).filter((row) => row.startsWith('b@')).map((row) => row.split(' ')[0]),
    ['b@b-e1', 'b@null', 'b@b-marker1'],
    'b: the suspended delete replaced the null version written before versioning; the versioned ones stay',
  );
  t.notOk((whole[0] ?? []).some((row) => row.startsWith('gone-u')), 'a delete before versioning leaves nothing to list');

  const listings: { prefix?: string; delimiter?: string; maxKeys: number }[] = [
    { maxKeys: 1000 },
    { maxKeys: 1 },
    { maxKeys: 2 },
    { maxKeys: 3, delimiter: '/' },
    { maxKeys: 1, delimiter: '/' },
    { maxKeys: 2, prefix: 'a/' },
    { maxKeys: 2, prefix: 'a/', delimiter: '/' },
    { maxKeys: 5, prefix: 'top/', delimiter: '/' },
  ];
  for (const listing of listings) {
    t.same(await allPages(indexed, listing), await allPages(unindexed, listing), `the same pages: ${JSON.stringify(listing)}`);
  }
});

t.test('the versions of a key with a write in flight are read from its own nodes, across pages', async (t) => {
  const indexed = await sideOf(bucketOn(cluster));
  const unindexed = await sideOf(unindexedBucketOn(cluster));
  const sides = [indexed, unindexed];
  await both(sides, versioning('Enabled'), '');
  for (let n = 0; n < 5; n += 1) await both(sides, put('k', `body ${n}`), `k${n}`);
  for (let n = 0; n < 3; n += 1) await both(sides, put(`k${n}`, 'other'), `other${n}`);
  await both(sides, removeVersion('k', 'k2'), '');
  // Every index replica holds an intent for `k`: the index does not vouch for it.
  const record = await (cluster.nodes[0] as TestCluster['nodes'][number]).parts.store.bucketRecord(indexed.bucket);
  if (record === undefined) throw new Error('no bucket record');
  const intent: IndexOp = { op: 'intent', bucket: indexed.bucket, incarnation: record.createdMs, key: 'k', id: formatVersionId(Date.now(), 0, 'feedbeef'), expiresMs: Date.now() + 60_000 };
  await Promise.all(cluster.nodes.map((node) => node.parts.store.indexRows.apply([intent])));
  for (const maxKeys of [1000, 2, 1]) t.same(await allPages(indexed, { maxKeys }), await allPages(unindexed, { maxKeys }), `the same pages of ${maxKeys}`);
  const whole = (await allPages(indexed, { maxKeys: 1000 }))[0] ?? [];
  t.same(
    whole.filter((row) => row.startsWith('k@')).map((row) => row.split(' ')[0]),
    ['k@k4', 'k@k3', 'k@k1', 'k@k0'],
    'the key\'s versions as its nodes hold them',
  );
});

t.test('an SDK client pages through the versions of an indexed bucket with KeyMarker and VersionIdMarker', async (t) => {
  const side = await sideOf(bucketOn(cluster));
  await both([side], versioning('Enabled'), '');
  for (let n = 0; n < 7; n += 1) await both([side], put('k', `body ${n}`), `k${n}`);
  await both([side], remove('k'), 'k-marker');
  for (const key of ['j', 'l']) await both([side], put(key, key), key);
  const pages = await allPages(side, { maxKeys: 3 });
  t.ok(pages.length > 3, 'several pages');
  const rows = pages.flatMap((page) => page.filter((row) => !row.startsWith('truncated')));
  t.same(
    rows.map((row) => row.split(' ').slice(0, 2).join(' ')),
    // Each page lists its versions before its delete markers, as the SDK hands them over.
    ['j@j latest', 'k@k6 6', 'k@k-marker latest', 'k@k5 6', 'k@k4 6', 'k@k3 6', 'k@k2 6', 'k@k1 6', 'k@k0 6', 'l@l latest'],
    'every version once, newest first, the latest marked on the first page that holds its key',
  );
  // A stopped index replica is replaced by another of the shard's set, read from where the merge stands.
  await cluster.stopNode(5);
  t.same(await allPages(side, { maxKeys: 3 }), pages, 'the same pages with a replica stopped');
});
