import { t } from 'tap';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { RingLocator } from '../../src/placement/index.js';
import { ringFromConfig } from '../../src/gateway/index.js';
import { bucketName, collect, seededBytes } from '../helpers/bytes.js';
import { startCluster } from '../helpers/cluster.js';
import { parsePrometheus, sampleValue, scrape } from '../helpers/prometheus.js';

t.test('gateway /metrics: counters, latency and bytes move with S3 traffic, and node calls are counted per node', async (t) => {
  const cluster = await startCluster({ nodeHealing: false, blockSizeBytes: 64 * 1024 });
  t.teardown(() => cluster.close());
  const s3 = cluster.client();
  const bucket = bucketName();
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));

  const first = await scrape(`${cluster.endpoint}/metrics`);
  t.equal(first.status, 200);
  t.match(first.contentType, /^text\/plain; version=0\.0\.4/);
  const before = parsePrometheus(first.text);
  t.equal(sampleValue(before, 'tessera_gateway_requests_total', { operation: 'GetObject', status_class: '2xx' }), 0, 'series exist before any GetObject');
  t.equal(sampleValue(before, 'tessera_gateway_ring_epoch'), cluster.gateway.ring.epoch);
  t.ok(before.samples.some((s) => s.name === 'tessera_gateway_erasure_kernel_info' && s.value === 1 && s.labels['kernel'] !== undefined), 'kernel info');

  const body = seededBytes(300_000, 7);
  for (let i = 0; i < 3; i += 1) await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `k${i}`, Body: body }));
  for (let i = 0; i < 2; i += 1) {
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: `k${i}` }));
    t.ok((await collect(got.Body as AsyncIterable<Uint8Array>)).equals(body));
  }
  await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'missing' })).catch(() => undefined);

  const after = parsePrometheus((await scrape(`${cluster.endpoint}/metrics`)).text);
  const moved = (name: string, labels: Record<string, string> = {}): number => sampleValue(after, name, labels) - sampleValue(before, name, labels);
  t.equal(moved('tessera_gateway_requests_total', { operation: 'PutObject', status_class: '2xx' }), 3, 'three PUTs');
  t.equal(moved('tessera_gateway_requests_total', { operation: 'GetObject', status_class: '2xx' }), 2, 'two GETs');
  t.equal(moved('tessera_gateway_requests_total', { operation: 'GetObject', status_class: '4xx' }), 1, 'one NoSuchKey');
  t.equal(moved('tessera_gateway_request_duration_seconds_count', { operation: 'PutObject' }), 3, 'latency observed per PUT');
  t.ok(moved('tessera_gateway_request_duration_seconds_sum', { operation: 'PutObject' }) > 0);
  t.ok(moved('tessera_gateway_received_bytes_total', { operation: 'PutObject' }) >= 3 * body.length, 'PUT bodies counted in');
  t.ok(moved('tessera_gateway_sent_bytes_total', { operation: 'GetObject' }) >= 2 * body.length, 'GET bodies counted out');
  t.equal(sampleValue(after, 'tessera_gateway_requests_in_flight'), 0, 'nothing in flight after the requests');
  const nodeOk = after.samples.filter((s) => s.name === 'tessera_gateway_node_calls_total' && s.labels['outcome'] === 'ok');
  t.equal(new Set(nodeOk.map((s) => s.labels['node'])).size, 6, 'every node has an ok series');
  t.ok(nodeOk.every((s) => s.value > 0), 'every node was called');
  t.ok(sampleValue(after, 'tessera_gateway_node_call_duration_seconds_count', { node: 'node-0' }) > 0);
  t.equal(sampleValue(after, 'tessera_gateway_degraded_reads_total'), 0, 'healthy reads need no reconstruction');
  const stages = ['prepare', 'checks', 'commit'];
  for (const stage of stages) {
    t.equal(moved('tessera_gateway_write_stage_duration_seconds_count', { stage }), 3, `each PUT times its ${stage} stage once`);
    t.ok(moved('tessera_gateway_write_stage_duration_seconds_sum', { stage }) > 0, `the ${stage} stage took time`);
  }
  const stageSeconds = stages.reduce((sum, stage) => sum + moved('tessera_gateway_write_stage_duration_seconds_sum', { stage }), 0);
  t.ok(stageSeconds <= moved('tessera_gateway_request_duration_seconds_sum', { operation: 'PutObject' }), 'the stages fit inside the PUTs that ran them');

  // A node holding a data shard is gone: its reads are rebuilt from parity, and counted.
  const placement = new RingLocator(ringFromConfig(cluster.config)).locate(bucket, 'k0');
  const dataNode = Number(placement.nodes[0]?.id.replace('node-', ''));
  await cluster.stopNode(dataNode);
  const degraded = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'k0' }));
  t.ok((await collect(degraded.Body as AsyncIterable<Uint8Array>)).equals(body));
  const third = parsePrometheus((await scrape(`${cluster.endpoint}/metrics`)).text);
  t.ok(sampleValue(third, 'tessera_gateway_degraded_reads_total') >= 1, 'the degraded read is counted');
  const failed = third.samples.filter((s) => s.name === 'tessera_gateway_node_calls_total' && s.labels['node'] === `node-${dataNode}` && s.labels['outcome'] !== 'ok');
  t.ok(failed.some((s) => s.value > 0), 'calls to the stopped node are counted by outcome');

  // Past m nodes down, requests fail with 503: quorum failures.
  const others = [0, 1, 2, 3, 4, 5].filter((i) => i !== dataNode).slice(0, 2);
  for (const i of others) await cluster.stopNode(i);
  await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'k1' })).then(
    () => t.fail('a read with 3 of 6 nodes down should fail'),
    (err: { $metadata?: { httpStatusCode?: number } }) => t.equal(err.$metadata?.httpStatusCode, 503),
  );
  const last = parsePrometheus((await scrape(`${cluster.endpoint}/-/metrics`)).text);
  t.ok(sampleValue(last, 'tessera_gateway_quorum_failures_total') >= 1, 'the 503 is a quorum failure');
  t.ok(sampleValue(last, 'tessera_gateway_requests_total', { operation: 'GetObject', status_class: '5xx' }) >= 1);
});

t.test('with metricsToken, /metrics wants the bearer token; a signed request for a bucket named "metrics" is still S3', async (t) => {
  const cluster = await startCluster({ nodeHealing: false, gatewayOverrides: { metricsToken: 'scrape-token-1' } });
  t.teardown(() => cluster.close());
  const open = await scrape(`${cluster.endpoint}/metrics`);
  t.equal(open.status, 401, 'no token: refused');
  t.equal((await scrape(`${cluster.endpoint}/metrics`, 'wrong')).status, 401, 'wrong token: refused');
  const ok = await scrape(`${cluster.endpoint}/metrics`, 'scrape-token-1');
  t.equal(ok.status, 200);
  t.ok(parsePrometheus(ok.text).samples.length > 0);
  const s3 = cluster.client();
  await s3.send(new CreateBucketCommand({ Bucket: 'metrics' }));
  await s3.send(new PutObjectCommand({ Bucket: 'metrics', Key: 'a', Body: 'x' }));
  const listed = await s3.send(new ListObjectsV2Command({ Bucket: 'metrics' }));
  t.same(listed.Contents?.map((c) => c.Key), ['a'], 'ListObjects on bucket "metrics" is served by S3');
});

t.test('storage node /metrics: health and worker figures from the same source as admin status, open or with a token', async (t) => {
  const cluster = await startCluster();
  t.teardown(() => cluster.close());
  const s3 = cluster.client();
  const bucket = bucketName();
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  for (let i = 0; i < 4; i += 1) await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `n${i}`, Body: seededBytes(200_000, i) }));
  const node = cluster.nodes[0];
  if (node === undefined) throw new Error('no node');
  const response = await scrape(`http://127.0.0.1:${node.address.port}/metrics`);
  t.equal(response.status, 200);
  const figures = parsePrometheus(response.text);
  t.equal(sampleValue(figures, 'tessera_node_info', { node: 'node-0' }), 1);
  t.equal(sampleValue(figures, 'tessera_node_up'), 1);
  t.ok(sampleValue(figures, 'tessera_node_free_bytes') > 0);
  t.equal(sampleValue(figures, 'tessera_node_records'), 4, 'four objects, one record each on every node of a 6-node 4+2 set');
  t.ok(sampleValue(figures, 'tessera_node_leveldb_bytes') > 0);
  t.ok(sampleValue(figures, 'tessera_node_fsync_duration_seconds_count') > 0, 'synced writes are timed');
  for (const name of ['tessera_node_scrub_progress_ratio', 'tessera_node_repairs_pending', 'tessera_node_rebalance_eta_seconds', 'tessera_node_gc_passes_total', 'tessera_node_objects_below_full_redundancy']) {
    t.ok(figures.samples.some((s) => s.name === name), `${name} is exported`);
  }
});

t.test('a storage node with a metrics token refuses a scrape without it', async (t) => {
  const { mkdtemp, rm } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { StorageNode } = await import('../../src/storage-node/index.js');
  const { silentLogger } = await import('../../src/common/index.js');
  const dir = await mkdtemp(join(tmpdir(), 'tessera-node-metrics-'));
  const node = new StorageNode({ nodeId: 'solo', dataDir: dir, host: '127.0.0.1', port: 0, clusterSecret: 'x'.repeat(32), logger: silentLogger(), metricsToken: 'node-token', healing: false });
  await node.start();
  t.teardown(async () => {
    await node.close();
    await rm(dir, { recursive: true, force: true });
  });
  const url = `http://127.0.0.1:${node.address.port}/metrics`;
  t.equal((await scrape(url)).status, 401);
  const ok = await scrape(url, 'node-token');
  t.equal(ok.status, 200);
  t.equal(sampleValue(parsePrometheus(ok.text), 'tessera_node_up'), 1);
});
