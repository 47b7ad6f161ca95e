import { CreateBucketCommand, HeadBucketCommand } from '@aws-sdk/client-s3';
import { t } from 'tap';
import { MAX_ACTIVE_BUCKET_LOOKUPS } from '../../src/gateway/data-path/index.js';
import { bucketName } from '../helpers/bytes.js';
import { localS3Client, startCluster, startSecondGateway, TEST_CREDENTIALS, type TestCluster } from '../helpers/cluster.js';
import { until } from '../helpers/until.js';
import { rawS3, xmlField } from '../gateway/raw-s3.js';

const NODES = 6;
/** The gateways' bucket cache: how long a miss may be remembered. */
const TTL_MS = 2_000;

/**
 * Counts the bucket-list reads each node serves (its metadata store's listBuckets, wrapped), and can
 * hold them until released: the nodes run no background work, so every call came from a gateway.
 */
interface ListCounter {
  calls(): number;
  /** Most calls any one node was serving at once. */
  peakPerNode(): number;
  hold(): void;
  release(): void;
}

function countListCalls(cluster: TestCluster): ListCounter {
  let calls = 0;
  let peak = 0;
  let held: { promise: Promise<void>; open: () => void } | undefined;
  for (const node of cluster.nodes) {
    const metadata = node.parts.store.metadata;
    const original = metadata.listBuckets.bind(metadata);
    let inFlight = 0;
    metadata.listBuckets = async () => {
      calls += 1;
      inFlight += 1;
      peak = Math.max(peak, inFlight);
      try {
        await held?.promise;
        return await original();
      } finally {
        inFlight -= 1;
      }
    };
  }
  return {
    calls: () => calls,
    peakPerNode: () => peak,
    hold() {
      let open = (): void => undefined;
      const promise = new Promise<void>((resolve) => (open = resolve));
      held = { promise, open };
    },
    release() {
      held?.open();
      held = undefined;
    },
  };
}

async function anonymousGet(endpoint: string, bucket: string): Promise<string> {
  const response = await rawS3(endpoint, { method: 'GET', bucket, key: 'k', anonymous: true });
  return `${response.status} ${xmlField(response.body, 'Code') ?? ''}`;
}

const cluster = await startCluster({ nodeCount: NODES, nodeHealing: false, gatewayOverrides: { bucketCacheTtlMs: TTL_MS } });
t.teardown(() => cluster.close());
const counter = countListCalls(cluster);
const s3 = cluster.client();

t.test('concurrent anonymous GETs of a missing bucket ask the nodes for their bucket lists once between them', async (t) => {
  const missing = bucketName();
  const before = counter.calls();
  const answers = await Promise.all(Array.from({ length: 40 }, () => anonymousGet(cluster.endpoint, missing)));
  t.same(new Set(answers), new Set(['404 NoSuchBucket']), 'every request is told NoSuchBucket');
  t.ok(counter.calls() - before <= NODES, `one fan-out at most: ${counter.calls() - before} node calls for 40 requests`);
});

t.test('a miss seen moments ago is answered without asking the nodes again, for GETs and CORS preflights alike', async (t) => {
  const missing = bucketName();
  t.equal(await anonymousGet(cluster.endpoint, missing), '404 NoSuchBucket');
  const before = counter.calls();
  for (let i = 0; i < 10; i += 1) t.equal(await anonymousGet(cluster.endpoint, missing), '404 NoSuchBucket');
  const preflight = await rawS3(cluster.endpoint, {
    method: 'OPTIONS',
    bucket: missing,
    key: 'k',
    anonymous: true,
    headers: { origin: 'https://example.com', 'access-control-request-method': 'GET' },
  });
  t.equal(xmlField(preflight.body, 'Code'), 'NoSuchBucket');
  t.equal(counter.calls() - before, 0, 'no node was asked again within the TTL');
});

t.test('a name no bucket can have is a miss without a node call', async (t) => {
  const before = counter.calls();
  for (const name of ['UPPER-case', 'x'.repeat(200), 'a..b', 'xn--punycode']) t.equal(await anonymousGet(cluster.endpoint, name), '404 NoSuchBucket', name.slice(0, 20));
  t.equal(counter.calls() - before, 0);
});

t.test('lookups of many different missing names are bounded: the rest wait their turn, and all are answered', async (t) => {
  const names = Array.from({ length: 3 * MAX_ACTIVE_BUCKET_LOOKUPS }, () => bucketName());
  counter.hold();
  const answers = Promise.all(names.map((name) => anonymousGet(cluster.endpoint, name)));
  try {
    await until('every lookup is running or waiting', async () => {
      const { active, queued } = cluster.gateway.requests.bucketLookups;
      return active + queued === names.length;
    }, 20_000, 20);
    t.equal(cluster.gateway.requests.bucketLookups.active, MAX_ACTIVE_BUCKET_LOOKUPS, 'as many lookups run as the bound allows');
    t.ok(counter.peakPerNode() <= MAX_ACTIVE_BUCKET_LOOKUPS, `no node serves more than the bound at once (${counter.peakPerNode()})`);
  } finally {
    counter.release();
  }
  t.same(new Set(await answers), new Set(['404 NoSuchBucket']));
  t.same(cluster.gateway.requests.bucketLookups, { active: 0, queued: 0 }, 'nothing is left running or waiting');
});

t.test('a bucket created through this gateway is seen at once, though its name was just cached as missing', async (t) => {
  const name = bucketName();
  t.equal(await anonymousGet(cluster.endpoint, name), '404 NoSuchBucket');
  await s3.send(new CreateBucketCommand({ Bucket: name }));
  t.equal(await anonymousGet(cluster.endpoint, name), '403 AccessDenied', 'the private bucket exists: anonymous is denied, not told NoSuchBucket');
});

t.test('a bucket created through another gateway is seen here within the TTL, and at once by signed requests', async (t) => {
  const other = localS3Client(await startSecondGateway(t, cluster), TEST_CREDENTIALS, { maxAttempts: 1 });
  t.teardown(() => other.destroy());
  const [anonymousName, signedName] = [bucketName(), bucketName()];
  t.equal(await anonymousGet(cluster.endpoint, anonymousName), '404 NoSuchBucket');
  t.equal(await anonymousGet(cluster.endpoint, signedName), '404 NoSuchBucket');
  const createdMs = Date.now();
  await other.send(new CreateBucketCommand({ Bucket: anonymousName }));
  await other.send(new CreateBucketCommand({ Bucket: signedName }));
  // A signed request is never answered from a remembered miss: HeadBucket, CreateBucket, PutObject
  // through two gateways (or two workers of one) works.
  const head = await s3.send(new HeadBucketCommand({ Bucket: signedName }));
  t.equal(head.$metadata.httpStatusCode, 200, 'a signed request sees the new bucket at once');
  await until('the remembered miss expires', async () => (await anonymousGet(cluster.endpoint, anonymousName)) === '403 AccessDenied', 10 * TTL_MS, 50);
  t.ok(Date.now() - createdMs <= TTL_MS + 1_000, `an anonymous request sees it within the TTL (${Date.now() - createdMs} ms)`);
});
