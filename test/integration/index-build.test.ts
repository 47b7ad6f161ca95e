import {
  AbortMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectVersionsCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  UploadPartCommand,
  type ListMultipartUploadsCommandOutput,
  type S3Client,
} from '@aws-sdk/client-s3';
import { PassThrough } from 'node:stream';
import { t } from 'tap';
import { runAdminCli } from '../../src/bin/admin-cli.js';
import { silentLogger } from '../../src/common/index.js';
import { buildIndex, ReplicationSource } from '../../src/gateway/index.js';
import { indexShardKey, UPLOADS_BUCKET, type BucketRecord } from '../../src/rpc/index.js';
import { bucketOn, startCluster, unindexedBucketOn, writeGatewayConfig, type TestCluster } from '../helpers/cluster.js';
import { until } from '../helpers/until.js';

/**
 * The multipart listings read a bucket's uploads index, and `tessera admin index build` gives a bucket
 * created before the index existed one while it is written to (docs/bucket-index.md).
 */

type Node = TestCluster['nodes'][number];

async function bucketRecord(cluster: TestCluster, bucket: string): Promise<BucketRecord> {
  const record = await (cluster.nodes[0] as Node).parts.store.bucketRecord(bucket);
  if (record === undefined) throw new Error(`no record of ${bucket}`);
  return record;
}

/** The nodes holding a replica of the bucket's uploads index, and the others. */
async function uploadsReplicasOf(cluster: TestCluster, bucket: string): Promise<{ replicas: Node[]; others: Node[]; createdMs: number }> {
  const record = await bucketRecord(cluster, bucket);
  const locator = (cluster.nodes[0] as Node).parts.rings.locator;
  if (locator === undefined) throw new Error('no ring');
  const ids = new Set(locator.locate(UPLOADS_BUCKET, indexShardKey(record.createdMs, 0)).nodes.map((node) => node.id));
  const named = cluster.nodes.map((node, i) => ({ node, id: `node-${i}` }));
  return { replicas: named.filter(({ id }) => ids.has(id)).map(({ node }) => node), others: named.filter(({ id }) => !ids.has(id)).map(({ node }) => node), createdMs: record.createdMs };
}

/** Waits until no replica of the bucket's uploads index holds an intent: every upload write settled. */
async function uploadsSettled(cluster: TestCluster, bucket: string): Promise<void> {
  const { replicas, createdMs } = await uploadsReplicasOf(cluster, bucket);
  await until(
    'every upload intent settled',
    async () => {
      for (const node of replicas) {
        const page = await node.parts.store.indexRows.list({ bucket: UPLOADS_BUCKET, incarnation: createdMs, prefix: `${bucket}/`, after: '', afterIsPrefix: false, limit: 10_000 });
        if (page.rows.some((row) => row.intent === true)) return false;
      }
      return true;
    },
    10_000,
  );
}

/** Every page of ListMultipartUploads, as `key@uploadId` and `prefix/` entries in page order, with the number of pages. */
async function allUploads(s3: S3Client, bucket: string, query: { Prefix?: string; Delimiter?: string; MaxUploads?: number }): Promise<{ entries: string[]; pages: number }> {
  const entries: string[] = [];
  let pages = 0;
  let keyMarker: string | undefined;
  let uploadIdMarker: string | undefined;
  for (;;) {
    const page: ListMultipartUploadsCommandOutput = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, ...query, KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker }));
    pages += 1;
    entries.push(...(page.Uploads ?? []).map((u) => `${u.Key as string}@${u.UploadId as string}`), ...(page.CommonPrefixes ?? []).map((p) => p.Prefix as string));
    if (page.IsTruncated !== true) return { entries, pages };
    keyMarker = page.NextKeyMarker;
    uploadIdMarker = page.NextUploadIdMarker;
  }
}

/** S3's order of uploads: key (UTF-8 bytes), then upload id. */
function uploadOrder(a: { key: string; id: string }, b: { key: string; id: string }): number {
  return Buffer.compare(Buffer.from(a.key), Buffer.from(b.key)) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/**
 * The index builds' cluster, a bucket per test: six nodes whose gateway rereads bucket records every
 * 100 ms, so it sees a build's marks soon. (The uploads test stops nodes of its own twelve.)
 */
const indexing = await startCluster({ nodeHealing: false, gatewayOverrides: { bucketCacheTtlMs: 100 } });
t.teardown(() => indexing.close());

t.test('on twelve nodes, ListMultipartUploads reads only the uploads index: it pages, filters and rolls up with five of the six other nodes stopped', async (t) => {
  const cluster = await startCluster({ nodeCount: 12, nodeHealing: false });
  t.teardown(() => cluster.close());
  const { s3, bucket } = await bucketOn(cluster);
  const keys = ['a/1', 'a/2', 'a/2', 'b/x/1', 'c', 'c', 'd/1'];
  const started: { key: string; id: string }[] = [];
  for (const key of keys) started.push({ key, id: (await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }))).UploadId as string });
  // Parts are keys of the uploads bucket under their upload: the listing seeks past them.
  const withParts = started[0] as { key: string; id: string };
  for (const PartNumber of [1, 2, 3]) await s3.send(new UploadPartCommand({ Bucket: bucket, Key: withParts.key, UploadId: withParts.id, PartNumber, Body: `part ${PartNumber}` }));
  // The last (the only one under d/) is aborted: it is listed neither as an upload nor as a prefix.
  const aborted = started.pop() as { key: string; id: string };
  await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: aborted.key, UploadId: aborted.id }));
  await uploadsSettled(cluster, bucket);
  const parts = await s3.send(new ListPartsCommand({ Bucket: bucket, Key: withParts.key, UploadId: withParts.id, MaxParts: 2 }));
  t.same((parts.Parts ?? []).map((p) => [p.PartNumber, p.Size]), [[1, 6], [2, 6]], 'ListParts: the first page of parts');
  const rest = await s3.send(new ListPartsCommand({ Bucket: bucket, Key: withParts.key, UploadId: withParts.id, PartNumberMarker: parts.NextPartNumberMarker }));
  t.same((rest.Parts ?? []).map((p) => p.PartNumber), [3], 'ListParts: the rest after the marker');

  const { replicas, others } = await uploadsReplicasOf(cluster, bucket);
  t.equal(replicas.length, 6, 'the uploads index has k + m replicas');
  // One other node stays: bucket records are read from a majority of all nodes (7 of 12). A listing
  // that merged every node's keys of the uploads bucket would fail (it tolerates m = 2 missing nodes).
  for (const node of others.slice(1)) await cluster.stopNode(cluster.nodes.indexOf(node));

  const open = [...started].sort(uploadOrder);
  const all = await allUploads(s3, bucket, { MaxUploads: 2 });
  t.same(all.entries, open.map((u) => `${u.key}@${u.id}`), 'every open upload, by key then upload id; not the aborted one');
  t.equal(all.pages, Math.ceil(open.length / 2), 'two uploads a page');
  const underA = await allUploads(s3, bucket, { Prefix: 'a/', MaxUploads: 1 });
  t.same(underA.entries, open.filter((u) => u.key.startsWith('a/')).map((u) => `${u.key}@${u.id}`), 'a prefix, one a page: the two uploads of one key page by upload id');
  const rolled = await allUploads(s3, bucket, { Delimiter: '/' });
  t.same(rolled.entries, [...open.filter((u) => !u.key.includes('/')).map((u) => `${u.key}@${u.id}`), 'a/', 'b/'], 'a delimiter rolls keys up into common prefixes');
  const deeper = await allUploads(s3, bucket, { Prefix: 'b/', Delimiter: '/' });
  t.same(deeper.entries, ['b/x/'], 'prefix and delimiter');
});

/** A bucket's every version as `key@versionId` (`marker` for a delete marker), from every page of ListObjectVersions. */
async function allVersions(s3: S3Client, bucket: string): Promise<string[]> {
  const versions: string[] = [];
  let keyMarker: string | undefined;
  let versionIdMarker: string | undefined;
  for (;;) {
    const page = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket, KeyMarker: keyMarker, VersionIdMarker: versionIdMarker, MaxKeys: 50 }));
    versions.push(...(page.Versions ?? []).map((v) => `${v.Key as string}@${v.VersionId as string}`), ...(page.DeleteMarkers ?? []).map((m) => `${m.Key as string}@${m.VersionId as string} marker`));
    if (page.IsTruncated !== true) return versions.sort();
    keyMarker = page.NextKeyMarker;
    versionIdMarker = page.NextVersionIdMarker;
  }
}

async function allKeys(s3: S3Client, bucket: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token, MaxKeys: 50 }));
    keys.push(...(page.Contents ?? []).map((object) => object.Key as string));
    token = page.NextContinuationToken;
  } while (token !== undefined);
  return keys;
}

/**
 * What a versioned bucket holds, kept by the writer from the answers it got: each key's versions
 * oldest first, each a version id and whether it is a delete marker.
 */
class VersionModel {
  readonly keys = new Map<string, { id: string; marker: boolean }[]>();

  add(key: string, id: string, marker: boolean): void {
    const versions = this.keys.get(key) ?? [];
    versions.push({ id, marker });
    this.keys.set(key, versions);
  }

  remove(key: string, id: string): void {
    this.keys.set(key, (this.keys.get(key) ?? []).filter((v) => v.id !== id));
  }

  versions(): string[] {
    return [...this.keys].flatMap(([key, versions]) => versions.map((v) => `${key}@${v.id}${v.marker ? ' marker' : ''}`)).sort();
  }

  live(): string[] {
    return [...this.keys].filter(([, versions]) => versions.length > 0 && versions.at(-1)?.marker === false).map(([key]) => key).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  }
}

t.test('an index build of a bucket created before the index, while it is written to: its listings then read the index and show exactly what committed', async (t) => {
  const cluster = indexing;
  const { s3, bucket } = await unindexedBucketOn(cluster);
  await s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
  const model = new VersionModel();
  const put = async (key: string, body: string): Promise<void> => model.add(key, (await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }))).VersionId as string, false);
  const remove = async (key: string): Promise<void> => model.add(key, (await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }))).VersionId as string, true);
  const removeVersion = async (key: string): Promise<void> => {
    const first = model.keys.get(key)?.[0];
    if (first === undefined) return;
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key, VersionId: first.id }));
    model.remove(key, first.id);
  };
  for (let i = 0; i < 40; i += 1) await put(`old/${String(i).padStart(2, '0')}`, `v1 ${i}`);
  for (let i = 0; i < 40; i += 4) await put(`old/${String(i).padStart(2, '0')}`, `v2 ${i}`);
  for (let i = 1; i < 40; i += 5) await remove(`old/${String(i).padStart(2, '0')}`);
  const openBefore = (await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'upload/before' }))).UploadId as string;
  await s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'upload/before', UploadId: openBefore, PartNumber: 1, Body: 'part' }));
  t.equal((await bucketRecord(cluster, bucket)).index, undefined, 'the bucket starts without an index');

  // Writes, overwrites, deletes and deletes by id run the whole time the build does, through every
  // phase; the walk reads five versions a page, so it runs long enough for writes to land between pages.
  const source = new ReplicationSource({ ring: cluster.gateway.ring, clusterSecret: cluster.config.clusterSecret, erasure: { dataShards: 4, parityShards: 2 }, logger: silentLogger() });
  t.teardown(() => source.close());
  let phase = 'marking';
  const build = buildIndex(source.listPath(), bucket, { signal: AbortSignal.timeout(120_000), settleWaitMs: 400, pageVersions: 5, onProgress: (p) => (phase = p.phase) });
  let building = true;
  void build.finally(() => (building = false)).catch(() => undefined);
  const uploads: string[] = [openBefore];
  let round = 0;
  let duringWalk = 0;
  while (building || round < 3) {
    if (phase === 'objects' || phase === 'uploads') duringWalk += 1;
    const i = round % 40;
    await put(`new/${String(round).padStart(3, '0')}`, `during ${round}`);
    await put(`old/${String(i).padStart(2, '0')}`, `overwritten ${round}`);
    if (round % 3 === 0) await remove(`old/${String((i + 7) % 40).padStart(2, '0')}`);
    if (round % 4 === 1) await removeVersion(`old/${String((i + 13) % 40).padStart(2, '0')}`);
    if (round % 5 === 2) uploads.push((await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: `upload/${round}` }))).UploadId as string);
    round += 1;
  }
  const done = await build;
  t.equal(done.phase, 'done', 'the build finished');
  t.ok(done.objectVersions >= 58 && done.uploadVersions >= 2, `it copied the versions and upload records written before it (${done.objectVersions}, ${done.uploadVersions})`);
  // The record reached a majority when the command returned; node 0 may hear of it a moment later.
  await until('node 0 holds the indexed record', async () => (await bucketRecord(cluster, bucket)).index?.building === undefined, 10_000);
  const record = await bucketRecord(cluster, bucket);
  t.same(record.index, { shards: [{ id: 0, from: '' }], uploads: true }, 'the bucket is indexed (its uploads too), no longer building');
  t.ok(duringWalk > 0, `rounds of writes started during the walk (${duringWalk} of ${round})`);

  t.same(await allVersions(s3, bucket), model.versions(), 'ListObjectVersions: exactly the versions and delete markers committed, before and during the build');
  t.same(await allKeys(s3, bucket), model.live(), 'ListObjectsV2: exactly the keys whose newest version is not a delete marker');
  const listed = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
  t.same((listed.Uploads ?? []).map((u) => u.UploadId).sort(), [...uploads].sort(), 'ListMultipartUploads: the uploads started before and during the build');

  // The listings above came from the index: its replicas hold every live key.
  const locator = (cluster.nodes[0] as Node).parts.rings.locator;
  const ids = new Set(locator?.locate(bucket, indexShardKey(record.createdMs, 0)).nodes.map((node) => node.id));
  const replica = cluster.nodes.find((_, i) => ids.has(`node-${i}`)) as Node;
  const rows = await replica.parts.store.indexRows.list({ bucket, incarnation: record.createdMs, prefix: '', after: '', afterIsPrefix: false, limit: 10_000 });
  const indexed = rows.rows.filter((row) => row.entry !== undefined && !row.entry.deleted).map((row) => row.key);
  t.same(indexed, model.live(), 'an index replica holds every live key as its newest entry');
});

t.test('a PUT whose body began before the build and commits after its walk is listed: it announces its intent as it commits', async (t) => {
  const cluster = indexing;
  const { s3, bucket } = await unindexedBucketOn(cluster);
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'before', Body: 'x' }));
  const half = 512 * 1024;
  const body = new PassThrough();
  const putting = s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'slow', Body: body, ContentLength: 2 * half }));
  body.write(Buffer.alloc(half, 1));
  // The write is under way (it read the bucket record, without an index, as it started) before the build marks the bucket.
  await until('the PUT is being served', async () => cluster.gateway.requests.active >= 1, 10_000, 10);
  let out = '';
  const code = await runAdminCli(['index', 'build', bucket, '--config', await writeGatewayConfig(cluster), '--wait-ms', '400'], {}, { stdout: (s) => void (out += s), stderr: (s) => void (out += s) });
  t.equal(code, 0, `the build finished while the body was still arriving: ${out}`);
  t.match(out, /done, 1 object versions/, 'its walk saw only the key written before');
  body.end(Buffer.alloc(half, 2));
  await putting;
  t.same(await allKeys(s3, bucket), ['before', 'slow'], 'the index lists the write that committed after the walk');
});
