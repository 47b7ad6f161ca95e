import {
  DeleteObjectCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { t } from 'tap';
import { formatVersionId, parseVersionId } from '../../src/common/index.js';
import type { ObjectRecord } from '../../src/rpc/index.js';
import { startCluster, unindexedBucketOn, type TestCluster } from '../helpers/cluster.js';

/**
 * Delimiter listings on the nodes: each node rolls the keys under a common prefix up into one row and
 * seeks past them, and the gateway lists a prefix at once only when every node agrees on it. This is how
 * buckets created before the bucket index are listed; their records carry no index.
 */

/** One cluster for every case, each in a bucket of its own; no background work, so no audit mends the divergence a case sets up. */
const shared = await startCluster({ nodeHealing: false });
t.teardown(() => shared.close());

/** Every key and common prefix of a delimiter listing, through every page of MaxKeys. */
async function listAll(s3: S3Client, bucket: string, maxKeys: number, prefix?: string): Promise<{ keys: string[]; prefixes: string[]; pages: number }> {
  const keys: string[] = [];
  const prefixes: string[] = [];
  let token: string | undefined;
  let pages = 0;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Delimiter: '/', MaxKeys: maxKeys, ContinuationToken: token, Prefix: prefix }));
    pages += 1;
    keys.push(...(page.Contents ?? []).map((object) => object.Key as string));
    prefixes.push(...(page.CommonPrefixes ?? []).map((common) => common.Prefix as string));
    token = page.NextContinuationToken;
  } while (token !== undefined);
  return { keys, prefixes, pages };
}

/** What node `index` answers a delimiter listing of the whole bucket with: its rows, rolled up. */
async function nodeRows(cluster: TestCluster, index: number, bucket: string): Promise<{ key: string; rollup?: string | undefined; deleted: boolean }[]> {
  const page = await (cluster.nodes[index] as TestCluster['nodes'][number]).parts.store.list({ bucket, prefix: '', after: '', afterIsPrefix: false, limit: 1_000, delimiter: '/' });
  return page.entries.map((row) => ({ key: row.record.key, rollup: row.rollup, deleted: row.record.deleted === true }));
}

/** A tombstone of `live`'s key, newer than it, as a delete writes it (commits it on the nodes given). */
async function commitTombstone(cluster: TestCluster, live: ObjectRecord, key: string, nodes: readonly number[], step = 1): Promise<void> {
  const { physicalMs, logical, writerId } = parseVersionId(live.versionId);
  const tombstone: ObjectRecord = {
    ...live,
    key,
    versionId: formatVersionId(physicalMs + step, logical, writerId),
    deleted: true,
    sizeBytes: 0,
    etag: '""',
    userMetadata: {},
    headers: {},
    checksums: {},
  };
  await Promise.all(nodes.map((index) => cluster.nodes[index]?.parts.store.commit({ record: tombstone, shardIndex: null })));
}

async function liveRecord(cluster: TestCluster, bucket: string, key: string): Promise<ObjectRecord> {
  const stored = await cluster.nodes[0]?.parts.store.objectStatus(bucket, key);
  if (stored === undefined) throw new Error(`node-0 holds no ${key}`);
  return stored.record;
}

t.test('each node answers a delimiter listing with one row per common prefix, and S3 pages them as before', async (t) => {
  const { cluster, s3, bucket } = await unindexedBucketOn(shared);
  const keys = ['a', 'z', ...['p1', 'p2', 'p3'].flatMap((p) => Array.from({ length: 25 }, (_, i) => `${p}/k${String(i).padStart(2, '0')}`)), 'p2/deep/x'];
  await Promise.all(keys.map((key) => s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: key }))));

  for (let node = 0; node < cluster.nodes.length; node += 1) {
    t.same(
      await nodeRows(cluster, node, bucket),
      [
        { key: 'a', rollup: undefined, deleted: false },
        { key: 'p1/k00', rollup: 'p1/', deleted: false },
        { key: 'p2/deep/x', rollup: 'p2/', deleted: false },
        { key: 'p3/k00', rollup: 'p3/', deleted: false },
        { key: 'z', rollup: undefined, deleted: false },
      ],
      `node-${node}: two keys and one row per prefix, the first key under each`,
    );
  }
  for (const maxKeys of [1, 2, 3, 1000]) {
    const listed = await listAll(s3, bucket, maxKeys);
    t.same(listed, { keys: ['a', 'z'], prefixes: ['p1/', 'p2/', 'p3/'], pages: Math.ceil(5 / maxKeys) }, `MaxKeys ${maxKeys}: every key and prefix once, in order`);
  }
  t.same(await listAll(s3, bucket, 1000, 'p2/'), { keys: keys.filter((key) => key.startsWith('p2/k')), prefixes: ['p2/deep/'], pages: 1 }, 'under a prefix, deeper prefixes roll up too');
});

t.test('deleted keys roll up nothing: a prefix whose every key is deleted is not listed, one with a live key after deleted ones is', async (t) => {
  const { cluster, s3, bucket } = await unindexedBucketOn(shared);
  for (const key of ['gone/1', 'gone/2', 'mixed/1', 'mixed/2', 'mixed/3']) await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: key }));
  for (const key of ['gone/1', 'gone/2', 'mixed/1', 'mixed/2']) await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));

  t.same(await nodeRows(cluster, 0, bucket), [{ key: 'mixed/3', rollup: 'mixed/', deleted: false }], 'a node passes over tombstones under a prefix');
  t.same(await listAll(s3, bucket, 1000), { keys: [], prefixes: ['mixed/'], pages: 1 }, 'only the prefix with a live key is listed');
});

t.test('a node that missed a delete does not bring back a prefix whose only key the others deleted', async (t) => {
  const { cluster, s3, bucket } = await unindexedBucketOn(shared);
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'missed/only', Body: 'x' }));
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'kept/one', Body: 'y' }));
  // The delete reached nodes 1 to 5 (a write quorum and more), not node 0.
  await commitTombstone(cluster, await liveRecord(cluster, bucket, 'missed/only'), 'missed/only', [1, 2, 3, 4, 5]);

  t.same((await nodeRows(cluster, 0, bucket)).map((row) => row.rollup), ['kept/', 'missed/'], 'node 0 still rolls the prefix up from its stale copy');
  t.same((await nodeRows(cluster, 1, bucket)).map((row) => row.rollup), ['kept/'], 'the others roll up nothing there');
  t.same(await listAll(s3, bucket, 1000), { keys: [], prefixes: ['kept/'], pages: 1 }, 'the keys beneath decide: the newer delete hides the prefix');
  const flat = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
  t.same((flat.Contents ?? []).map((object) => object.Key), ['kept/one'], 'as the flat listing says');
});

t.test('a prefix behind more tombstones than a node reads for one page is still found', async (t) => {
  const { cluster, s3, bucket } = await unindexedBucketOn(shared);
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'deep/zz-live', Body: 'live' }));
  const live = await liveRecord(cluster, bucket, 'deep/zz-live');
  // More tombstones before the live key than one node page reads (ROLLUP_SCAN_ROWS, 4,096).
  const names = Array.from({ length: 4_200 }, (_, i) => `deep/a-${String(i).padStart(5, '0')}`);
  for (let at = 0; at < names.length; at += 300) {
    await Promise.all(names.slice(at, at + 300).map((name) => commitTombstone(cluster, live, name, [0, 1, 2, 3, 4, 5])));
  }
  const first = await (cluster.nodes[0] as TestCluster['nodes'][number]).parts.store.list({ bucket, prefix: '', after: '', afterIsPrefix: false, limit: 1_000, delimiter: '/' });
  t.same(first.entries, [], 'the first page reads its share of tombstones and returns nothing');
  t.equal(first.truncated, true, 'but says more follows');
  t.same(first.resume, { after: names[4_095], afterIsPrefix: false }, 'and where to resume');
  t.same(await listAll(s3, bucket, 1000), { keys: [], prefixes: ['deep/'], pages: 1 }, 'the listing resumes there and finds the prefix');
});

/** Every version, delete marker and common prefix of a delimiter version listing, through every page of MaxKeys. */
async function listAllVersions(s3: S3Client, bucket: string, maxKeys: number): Promise<{ versions: string[]; prefixes: string[] }> {
  const versions: string[] = [];
  const prefixes: string[] = [];
  let keyMarker: string | undefined;
  let versionMarker: string | undefined;
  for (let pages = 0; pages < 100; pages += 1) {
    const page = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket, Delimiter: '/', MaxKeys: maxKeys, KeyMarker: keyMarker, VersionIdMarker: versionMarker }));
    versions.push(...(page.Versions ?? []).map((v) => `${v.Key}@${v.VersionId}`), ...(page.DeleteMarkers ?? []).map((m) => `${m.Key}@${m.VersionId}!`));
    prefixes.push(...(page.CommonPrefixes ?? []).map((common) => common.Prefix as string));
    if (page.IsTruncated !== true) return { versions: versions.sort(), prefixes };
    keyMarker = page.NextKeyMarker;
    versionMarker = page.NextVersionIdMarker;
  }
  throw new Error('the listing did not end');
}

t.test('version listings with a delimiter roll up on the nodes too: one row per prefix, delete markers counting as versions', async (t) => {
  const { cluster, s3, bucket } = await unindexedBucketOn(shared);
  await s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
  const put = async (key: string): Promise<string> => (await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: key }))).VersionId as string;
  const top1 = await put('top');
  const top2 = await put('top');
  for (const key of ['p1/a', 'p1/a', 'p1/b', 'p2/c', 'marked/only']) await put(key);
  const marker = (await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'marked/only' }))).VersionId as string;
  t.ok(marker, 'a delete marker');

  const rows = await (cluster.nodes[0] as TestCluster['nodes'][number]).parts.store.listVersions({ bucket, prefix: '', after: '', afterIsPrefix: false, limit: 1_000, delimiter: '/' });
  t.same(
    rows.entries.map((row) => [row.record.key, row.rollup]),
    [
      ['marked/only', 'marked/'],
      ['p1/a', 'p1/'],
      ['p2/c', 'p2/'],
      ['top', undefined],
      ['top', undefined],
    ],
    'a node returns the first version under each prefix (a delete marker counts) and every version outside them',
  );
  for (const maxKeys of [1, 2, 1000]) {
    t.same(
      await listAllVersions(s3, bucket, maxKeys),
      { versions: [`top@${top1}`, `top@${top2}`].sort(), prefixes: ['marked/', 'p1/', 'p2/'] },
      `MaxKeys ${maxKeys}: each prefix once, the versions outside them all`,
    );
  }
});

t.test('a version listing does not bring back a prefix whose only version the other nodes deleted by id', async (t) => {
  const { cluster, s3, bucket } = await unindexedBucketOn(shared);
  await s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'kept/one', Body: 'k' }));
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'missed/only', Body: 'm' }));
  const only = await liveRecord(cluster, bucket, 'missed/only');
  // The delete by id reached nodes 1 to 5, not node 0.
  for (const index of [1, 2, 3, 4, 5]) await cluster.nodes[index]?.parts.store.deleteVersion(bucket, 'missed/only', only.versionId);

  const rows = async (index: number): Promise<(string | undefined)[]> =>
    (await (cluster.nodes[index] as TestCluster['nodes'][number]).parts.store.listVersions({ bucket, prefix: '', after: '', afterIsPrefix: false, limit: 1_000, delimiter: '/' })).entries.map(
      (row) => row.rollup,
    );
  t.same(await rows(0), ['kept/', 'missed/'], 'node 0 still rolls the prefix up from the version it holds');
  t.same(await rows(1), ['kept/'], 'the others, which know it was deleted, do not');
  t.same((await listAllVersions(s3, bucket, 1000)).prefixes, ['kept/'], 'the versions beneath decide: the prefix is not listed');
});

t.test('a delimiter longer than any key lists every key, as it did before the nodes rolled up', async (t) => {
  const { s3, bucket } = await unindexedBucketOn(shared);
  for (const key of ['a/1', 'b/2']) await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: key }));
  const delimiter = '/'.repeat(1_100);
  const objects = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Delimiter: delimiter }));
  t.same((objects.Contents ?? []).map((object) => object.Key), ['a/1', 'b/2'], 'ListObjectsV2: both keys, no prefix');
  t.same(objects.CommonPrefixes ?? [], [], 'and no common prefix');
  const versions = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket, Delimiter: delimiter }));
  t.same((versions.Versions ?? []).map((version) => version.Key), ['a/1', 'b/2'], 'ListObjectVersions: both keys');
});
