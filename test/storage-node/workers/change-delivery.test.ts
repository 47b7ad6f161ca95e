import { randomBytes } from 'node:crypto';
import { t } from 'tap';
import { Redis } from 'ioredis';
import { silentLogger } from '../../../src/common/index.js';
import { targetArn, type TargetDefinition } from '../../../src/events/index.js';
import { buildRing, RingLocator, serializeRing, type RingNode } from '../../../src/placement/index.js';
import { MAX_DONE_IDS, MAX_OFFERED_CHANGES, NodeClient, type ChangeNote, type EventTargetFigures } from '../../../src/rpc/index.js';
import { StorageNode } from '../../../src/storage-node/index.js';
import { backoffMs } from '../../../src/storage-node/workers/change-delivery.js';
import type { EventDeliveryTuning } from '../../../src/storage-node/workers/healing.js';
import { formatStatus } from '../../../src/bin/admin-cli.js';
import { seededBytes } from '../../helpers/bytes.js';
import { probeBroker, startRedis } from '../../helpers/brokers.js';
import { requireClient } from '../../helpers/clients.js';
import { until } from '../../helpers/until.js';
import { Webhook } from '../../helpers/webhook.js';
import { recordFor, tempDir } from '../store-fixture.js';

/**
 * Event delivery from the nodes' change logs (docs/events.md): real storage nodes (LevelDB, the node
 * protocol over HTTP) are given commits carrying change notes, as a gateway sends them, and a real HTTP
 * listener (or Redis) as the target receives S3's event JSON.
 */

const SECRET = 'change-delivery-test-secret';
const BUCKET = 'photos';
const ERASURE = { dataShards: 2, parityShards: 1, blockSizeBytes: 65_536 };
const REGION = 'eu-test-1';
/** Short pauses, so a test waits for its condition in a second or two rather than the production minutes. */
const FAST: EventDeliveryTuning = { passIdleMs: 50, retryBaseMs: 100, retryMaxMs: 400, probeCacheMs: 200 };

type Teardown = { teardown(fn: () => unknown): void };

/** A storage node as the tests run it: its region, its delivery tuning, no rebalance, gc or lifecycle. */
function nodeOn(nodeId: string, dataDir: string, port: number, tuning: EventDeliveryTuning): StorageNode {
  return new StorageNode({
    nodeId,
    dataDir,
    host: '127.0.0.1',
    port,
    clusterSecret: SECRET,
    logger: silentLogger(),
    region: REGION,
    healing: { rebalance: false, gc: false, lifecycle: false },
    eventDelivery: tuning,
  });
}

/** Three real storage nodes holding one ring (every key on all three), each delivering its changes. */
class Cluster {
  nodes: StorageNode[];
  readonly members: RingNode[];
  readonly clients: NodeClient[];
  readonly locator: RingLocator;
  /** Each node's data directory, by node index. */
  readonly dataDirs: string[] = [];
  /** Nodes a test stopped itself. */
  readonly stopped = new Set<StorageNode>();
  private versions = 0;

  private constructor(nodes: StorageNode[], members: RingNode[], clients: NodeClient[], locator: RingLocator) {
    this.nodes = nodes;
    this.members = members;
    this.clients = clients;
    this.locator = locator;
  }

  static async start(t: Teardown, tuning: EventDeliveryTuning): Promise<Cluster> {
    const nodes: StorageNode[] = [];
    const dataDirs: string[] = [];
    for (let i = 0; i < 3; i += 1) {
      dataDirs.push(await tempDir(t, `delivery-n${i}`));
      const node = nodeOn(`n${i}`, dataDirs[i] as string, 0, tuning);
      await node.start();
      nodes.push(node);
    }
    const members = nodes.map((node, i) => ({ id: `n${i}`, address: `127.0.0.1:${node.address.port}`, zone: 'z', weight: 1 }));
    const clients = members.map((member) => new NodeClient({ nodeId: member.id, address: member.address, clusterSecret: SECRET }));
    const ring = buildRing(null, members, { replicas: 3, partitionBits: 4, seed: 3 });
    for (const client of clients) await client.offerRing(JSON.parse(serializeRing(ring)));
    const cluster = new Cluster(nodes, members, clients, new RingLocator(ring));
    cluster.dataDirs.push(...dataDirs);
    t.teardown(async () => {
      for (const client of clients) await client.close();
      for (const node of cluster.nodes) if (!cluster.stopped.has(node)) await node.close();
    });
    return cluster;
  }

  /** The key's set, in set order, as clients. */
  set(key: string): { member: RingNode; client: NodeClient; node: StorageNode }[] {
    return this.locator.locate(BUCKET, key).nodes.map((member) => {
      const i = this.members.findIndex((m) => m.id === member.id);
      return { member, client: this.clients[i] as NodeClient, node: this.nodes[i] as StorageNode };
    });
  }

  /** Defines a target on every node, as `tessera admin target add` does. */
  async defineTarget(name: string, definition: TargetDefinition): Promise<string> {
    const record = { name: `target:${name}`, versionId: this.nextVersion(), deleted: false, canonicalId: '', createdMs: Date.now(), keys: [], target: JSON.stringify(definition) };
    for (const client of this.clients) await client.putUser(record);
    return targetArn(name, definition.type);
  }

  /**
   * Writes a version of `key` (or a tombstone) on the members given (the whole set when absent), each
   * commit carrying the change's note as a gateway's does; answers the note.
   */
  async write(key: string, arn: string | string[], options: { deleted?: boolean; on?: number[] } = {}): Promise<ChangeNote> {
    const versionId = this.nextVersion();
    const deleted = options.deleted === true;
    const sizeBytes = 1000;
    const note: ChangeNote = {
      id: randomBytes(16).toString('hex'),
      eventName: deleted ? 's3:ObjectRemoved:Delete' : 's3:ObjectCreated:Put',
      timeMs: Date.now(),
      orderId: versionId,
      ...(deleted ? {} : { sizeBytes, etag: 'e1f2' }),
      bucketOwnerId: 'owner-id',
      principalId: 'writer-id',
      sourceIp: '192.0.2.7',
      requestId: `req-${versionId}`,
      hostId: 'host-id',
      destinations: typeof arn === 'string' ? [{ configurationId: 'to-hook', arn }] : arn.map((one, i) => ({ configurationId: `to-${i}`, arn: one })),
    };
    const set = this.set(key);
    const on = options.on ?? set.map((_, i) => i);
    await Promise.all(
      on.map(async (i) => {
        const { client } = set[i] as { client: NodeClient };
        const ref = { bucket: BUCKET, key, versionId, shardIndex: i };
        if (deleted) {
          await client.commit({ record: { ...recordFor(ref, 0, true), erasure: ERASURE }, shardIndex: null, change: note });
          return;
        }
        await client.prepareShard(ref, ERASURE, seededBytes(sizeBytes / 2, i), { fresh: true });
        await client.commit({ record: { ...recordFor(ref, sizeBytes), erasure: ERASURE }, shardIndex: i, change: note });
      }),
    );
    return note;
  }

  /** Changes a node still holds in its log. */
  async logged(client: NodeClient): Promise<number> {
    return (await client.listChanges({ limit: 1000 })).length;
  }

  /** A node's delivery figures for a target. */
  async figures(client: NodeClient, target: string): Promise<EventTargetFigures | undefined> {
    return (await client.workStatus()).events?.find((figures) => figures.target === target);
  }

  private nextVersion(): string {
    this.versions += 1;
    return `${(0x19000000000 + this.versions).toString(16).padStart(16, '0')}aaaaaaaa`;
  }
}

/** Whether every node's log is empty. */
async function logsEmpty(cluster: Cluster): Promise<boolean> {
  for (const client of cluster.clients) if ((await cluster.logged(client)) > 0) return false;
  return true;
}

t.test('each committed change reaches the webhook once, as S3 event JSON, in commit order per key, and every log empties', async (t) => {
  const hook = await Webhook.start(t);
  const cluster = await Cluster.start(t, FAST);
  const arn = await cluster.defineTarget('hook', { type: 'webhook', url: hook.url });
  const notes: ChangeNote[] = [];
  for (let i = 0; i < 5; i += 1) notes.push(await cluster.write('a/one', arn, { deleted: i === 3 }));
  for (let i = 0; i < 3; i += 1) notes.push(await cluster.write('dir/b c+d', arn));
  await until('the webhook receives every change', async () => hook.received.length >= notes.length, 20_000);
  await until('every member removed its copies', () => logsEmpty(cluster), 20_000);
  t.equal(hook.received.length, notes.length, 'each change was delivered once');
  const byKey = (key: string): string[] => hook.events().filter((event) => event.key === key).map((event) => event.sequencer);
  t.same(byKey('a/one'), notes.slice(0, 5).map((note) => note.orderId.toUpperCase()), 'one key: in commit order');
  t.same(byKey('dir/b+c%2Bd'), notes.slice(5).map((note) => note.orderId.toUpperCase()), 'the other key, form-encoded as S3 writes it: in commit order');
  const put = hook.received.find(({ Records: [record] }) => record.s3.object.sequencer === notes[0]?.orderId.toUpperCase())?.Records[0];
  t.match(put, {
    eventVersion: '2.1',
    eventSource: 'aws:s3',
    awsRegion: REGION,
    eventTime: new Date(notes[0]?.timeMs ?? 0).toISOString(),
    eventName: 'ObjectCreated:Put',
    userIdentity: { principalId: 'writer-id' },
    requestParameters: { sourceIPAddress: '192.0.2.7' },
    responseElements: { 'x-amz-request-id': `req-${notes[0]?.orderId}`, 'x-amz-id-2': 'host-id' },
    s3: { s3SchemaVersion: '1.0', configurationId: 'to-hook', bucket: { name: BUCKET, ownerIdentity: { principalId: 'owner-id' }, arn: `arn:aws:s3:::${BUCKET}` }, object: { key: 'a/one', size: 1000, eTag: 'e1f2' } },
  });
  const removal = hook.events().find((event) => event.sequencer === notes[3]?.orderId.toUpperCase());
  t.equal(removal?.eventName, 'ObjectRemoved:Delete', 'a tombstone commit is delivered as a removal');
  const leader = cluster.set('a/one')[0]?.client as NodeClient;
  t.ok(((await cluster.figures(leader, 'hook'))?.delivered ?? 0) >= 5, "the key's leader counts what it delivered");
});

t.test('a webhook refusing messages, then accepting them, receives every change after it comes back, in order', async (t) => {
  const hook = await Webhook.start(t);
  const cluster = await Cluster.start(t, FAST);
  const arn = await cluster.defineTarget('hook', { type: 'webhook', url: hook.url });
  hook.refusing = true;
  const notes: ChangeNote[] = [];
  for (let i = 0; i < 4; i += 1) notes.push(await cluster.write('k', arn));
  const leader = cluster.set('k')[0]?.client as NodeClient;
  await until('the leader counts failed publishes', async () => ((await cluster.figures(leader, 'hook'))?.failures ?? 0) >= 2, 20_000);
  t.equal(hook.received.length, 0, 'nothing was accepted while the webhook refused');
  // The backlog is what the last finished pass counted: a failure is counted during a pass, before the pass
  // ends, so the figure is awaited rather than read right after the failures.
  await until('a finished pass counted the backlog', async () => ((await cluster.figures(leader, 'hook'))?.backlog ?? 0) >= 4, 20_000);
  t.equal((await cluster.figures(leader, 'hook'))?.backlog, 4, 'the backlog holds every change, and only those');
  await until('the leader leaves its log unread while the target backs off', async () => Number((await leader.workStatus()).workers.events?.worker['quietPasses'] ?? 0) > 0, 10_000);
  hook.refusing = false;
  await until('the webhook receives every change', async () => hook.received.length >= notes.length, 20_000);
  await until('every member removed its copies', () => logsEmpty(cluster), 20_000);
  t.same(hook.events().map((event) => event.sequencer), notes.map((note) => note.orderId.toUpperCase()), 'in commit order, each once');
  await until('the backlog is empty again', async () => (await cluster.figures(leader, 'hook'))?.backlog === 0, 10_000);
});

t.test('a Redis target stopped and started again receives every change after it restarts, in order', async (t) => {
  if (!requireClient(t, 'redis', await probeBroker('redis'))) return;
  const broker = await startRedis();
  t.teardown(() => broker.close());
  const url = `redis://127.0.0.1:${broker.port}`;
  const cluster = await Cluster.start(t, { ...FAST, retryMaxMs: 300 });
  const arn = await cluster.defineTarget('queue', { type: 'redis', url, key: 'events', format: 'list' });
  const reader = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  t.teardown(() => reader.disconnect());
  const sequencers = async (): Promise<string[]> => (await reader.lrange('events', 0, -1)).map((body) => JSON.parse(body).Records[0].s3.object.sequencer);
  const first = await cluster.write('q', arn);
  await until('the first change arrives', async () => (await sequencers()).length === 1, 20_000);
  reader.disconnect();
  await broker.stop();
  const notes = [first];
  for (let i = 0; i < 3; i += 1) notes.push(await cluster.write('q', arn));
  const leader = cluster.set('q')[0]?.client as NodeClient;
  await until('the leader counts failed publishes', async () => ((await cluster.figures(leader, 'queue'))?.failures ?? 0) >= 1, 30_000);
  await broker.restart();
  await reader.connect();
  const expected = notes.slice(1).map((note) => note.orderId.toUpperCase());
  // The broker keeps nothing across a restart (no persistence): the list holds what was sent after it.
  await until('every change written while the broker was down arrives', async () => new Set(await sequencers()).size >= expected.length, 30_000);
  const arrived = await sequencers();
  // A publish that timed out while the broker was away may still have gone out when ioredis reconnected,
  // before its retry: a repeat, which a consumer drops by sequencer. The order holds all the same.
  t.same(
    arrived.filter((sequencer, i) => sequencer !== arrived[i - 1]),
    expected,
    'in commit order, each at least once',
  );
  t.ok(arrived.length <= expected.length + 1, 'at most the publish cut short by the outage is repeated');
});

t.test('a change the leader missed is offered to it after offerAfterMs, delivered once, and every copy removed', async (t) => {
  const hook = await Webhook.start(t);
  const cluster = await Cluster.start(t, { ...FAST, offerAfterMs: 800 });
  const arn = await cluster.defineTarget('hook', { type: 'webhook', url: hook.url });
  // The commit reached the two followers only (the leader was slow, the write still had its quorum).
  const note = await cluster.write('missed', arn, { on: [1, 2] });
  const started = Date.now();
  await until('the change is delivered', async () => hook.received.length >= 1, 20_000);
  t.ok(Date.now() - started >= 700, 'not before a follower offered it');
  await until('every member removed its copy', () => logsEmpty(cluster), 20_000);
  t.same(hook.events().map((event) => event.sequencer), [note.orderId.toUpperCase()], 'delivered once');
});

t.test('with the leader stopped, the next member delivers after offerAfterMs, and its done empties the last member\'s log', async (t) => {
  const hook = await Webhook.start(t);
  const cluster = await Cluster.start(t, { ...FAST, offerAfterMs: 800 });
  const arn = await cluster.defineTarget('hook', { type: 'webhook', url: hook.url });
  const [leader, second, third] = cluster.set('orphan') as [ReturnType<Cluster['set']>[number], ReturnType<Cluster['set']>[number], ReturnType<Cluster['set']>[number]];
  cluster.stopped.add(leader.node);
  await leader.node.close();
  const notes: ChangeNote[] = [];
  for (let i = 0; i < 3; i += 1) notes.push(await cluster.write('orphan', arn, { on: [1, 2] }));
  await until('the changes are delivered', async () => hook.received.length >= notes.length, 20_000);
  await until("the stand-in's and the last member's logs are empty", async () => (await cluster.logged(second.client)) === 0 && (await cluster.logged(third.client)) === 0, 20_000);
  t.same(hook.events().map((event) => event.sequencer), notes.map((note) => note.orderId.toUpperCase()), 'in order, each once');
  t.ok(((await cluster.figures(second.client, 'hook'))?.delivered ?? 0) >= 3, 'the second member delivered them');
  t.equal((await cluster.figures(third.client, 'hook'))?.delivered ?? 0, 0, 'the last member delivered none');
});

t.test('past the backlog limit the oldest changes are dropped for the target and counted, and the rest delivered in order', async (t) => {
  const hook = await Webhook.start(t);
  const cluster = await Cluster.start(t, { ...FAST, maxBacklog: 3 });
  const arn = await cluster.defineTarget('hook', { type: 'webhook', url: hook.url });
  hook.refusing = true;
  const notes: ChangeNote[] = [];
  for (let i = 0; i < 7; i += 1) notes.push(await cluster.write('busy', arn));
  const leader = cluster.set('busy')[0]?.client as NodeClient;
  await until('the four oldest are dropped', async () => (await cluster.figures(leader, 'hook'))?.dropped === 4, 20_000);
  hook.refusing = false;
  await until('the webhook receives the rest', async () => hook.received.length >= 3, 20_000);
  await until('every member removed its copies', () => logsEmpty(cluster), 20_000);
  t.same(hook.events().map((event) => event.sequencer), notes.slice(4).map((note) => note.orderId.toUpperCase()), 'the three newest, in order');
  const figures = await cluster.figures(leader, 'hook');
  t.match(figures, { dropped: 4, delivered: 3, backlog: 0 });
  const metrics = await (await fetch(`http://${cluster.set('busy')[0]?.member.address}/metrics`)).text();
  t.match(metrics, /tessera_node_event_dropped_total\{target="hook"\} 4/, 'the metrics count the dropped changes');
  t.match(metrics, /tessera_node_event_deliveries_total\{target="hook"\} 3/);
  t.match(metrics, /tessera_node_event_backlog\{target="hook"\} 0/);
  t.match(formatStatus([await leader.workStatus()]), /^ {2}events {5}passes \d+; .*hook backlog 0, delivered 3, failures \d+, dropped 4, undeliverable 0/m, 'admin status has an events line');
});

t.test('a destination whose target was removed is skipped and counted, not retried', async (t) => {
  const hook = await Webhook.start(t);
  const cluster = await Cluster.start(t, FAST);
  const arn = await cluster.defineTarget('hook', { type: 'webhook', url: hook.url });
  const gone = await cluster.defineTarget('gone', { type: 'webhook', url: hook.url });
  const removal = { name: 'target:gone', versionId: `${(0x1a000000000).toString(16).padStart(16, '0')}aaaaaaaa`, deleted: true, canonicalId: '', createdMs: Date.now(), keys: [] };
  for (const client of cluster.clients) await client.putUser(removal);
  await cluster.write('x', gone);
  const kept = await cluster.write('x', arn);
  await until('the change to the live target is delivered', async () => hook.received.length >= 1, 20_000);
  await until('every log is empty', () => logsEmpty(cluster), 20_000);
  t.same(hook.events().map((event) => event.sequencer), [kept.orderId.toUpperCase()], 'only the live target received anything');
  t.equal((await cluster.figures(cluster.set('x')[0]?.client as NodeClient, 'gone'))?.undeliverable, 1, 'the removed target counts one undeliverable change');
});

t.test('the pause after failed publishes doubles from the base up to the maximum, each between half and all of its value', async (t) => {
  for (const [failures, ceiling] of [[1, 1_000], [2, 2_000], [3, 4_000], [6, 32_000], [7, 60_000], [40, 60_000]] as const) {
    for (let i = 0; i < 50; i += 1) {
      const pause = backoffMs(failures, 1_000, 60_000);
      if (pause < ceiling / 2 || pause > ceiling) t.fail(`failure ${failures}: ${pause} ms outside [${ceiling / 2}, ${ceiling}]`);
    }
    t.pass(`after ${failures} failures in a row: between ${ceiling / 2} and ${ceiling} ms`);
  }
});

t.test('a change for two targets reaches the one that accepts once, and the other after it comes back, without a resend to the first', async (t) => {
  const up = await Webhook.start(t);
  const down = await Webhook.start(t);
  const cluster = await Cluster.start(t, FAST);
  const upArn = await cluster.defineTarget('up', { type: 'webhook', url: up.url });
  const downArn = await cluster.defineTarget('down', { type: 'webhook', url: down.url });
  down.refusing = true;
  const notes = [await cluster.write('both', [upArn, downArn]), await cluster.write('both', [upArn, downArn])];
  await until('the accepting target receives both changes', async () => up.received.length >= 2, 20_000);
  await until('the other refused them a few times', async () => down.refused >= 3, 20_000);
  t.equal(up.received.length, 2, 'retries for the other target resend nothing to this one');
  down.refusing = false;
  await until('the other target receives both changes', async () => down.received.length >= 2, 20_000);
  await until('every member removed its copies', () => logsEmpty(cluster), 20_000);
  const sequencers = notes.map((note) => note.orderId.toUpperCase());
  t.same(up.events().map((event) => event.sequencer), sequencers, 'the first target: each once, in order');
  t.same(down.events().map((event) => event.sequencer), sequencers, 'the second: each once, in order');
  t.same(down.received.map(({ Records: [record] }) => record.s3.configurationId), ['to-1', 'to-1'], 'each with its own configuration id');
});

t.test('a leader restarted with changes it had not delivered delivers them after the restart, in order, from its own log', async (t) => {
  const hook = await Webhook.start(t);
  const tuning = { ...FAST, retryMaxMs: 200 };
  const cluster = await Cluster.start(t, tuning);
  const arn = await cluster.defineTarget('hook', { type: 'webhook', url: hook.url });
  hook.refusing = true;
  const notes: ChangeNote[] = [];
  for (let i = 0; i < 3; i += 1) notes.push(await cluster.write('kept', arn));
  const [leader] = cluster.set('kept') as [ReturnType<Cluster['set']>[number]];
  await until('the leader tried and failed', async () => hook.refused >= 1, 20_000);
  const index = cluster.nodes.indexOf(leader.node);
  const { port } = leader.node.address;
  const dataDir = cluster.dataDirs[index] as string;
  cluster.stopped.add(leader.node);
  await leader.node.close();
  hook.refusing = false;
  const restarted = nodeOn(leader.member.id, dataDir, port, tuning);
  await restarted.start();
  cluster.nodes[index] = restarted;
  await until('the changes are delivered', async () => hook.received.length >= notes.length, 20_000);
  await until('every member removed its copies', () => logsEmpty(cluster), 20_000);
  t.same(hook.events().map((event) => event.sequencer), notes.map((note) => note.orderId.toUpperCase()), 'each once, in order');
});

t.test('the done and offer routes refuse more ids or changes than their bounds, and ids that are not change ids', async (t) => {
  const cluster = await Cluster.start(t, FAST);
  const [client] = cluster.clients as [NodeClient];
  const id = (n: number): string => n.toString(16).padStart(32, '0');
  t.equal(await client.changesDone(Array.from({ length: MAX_DONE_IDS }, (_, i) => id(i))), 0, 'as many ids as the bound are taken');
  await t.rejects(client.changesDone(Array.from({ length: MAX_DONE_IDS + 1 }, (_, i) => id(i))), { code: 'BadRequest' }, 'one more is refused');
  await t.rejects(client.changesDone(['../../etc']), { code: 'BadRequest' }, 'an id is 32 hex digits');
  const note = await cluster.write('bounded', await cluster.defineTarget('hook', { type: 'webhook', url: 'http://127.0.0.1:9/' }));
  const offered = { bucket: BUCKET, key: 'bounded', note };
  await t.rejects(client.offerChanges({ changes: Array.from({ length: MAX_OFFERED_CHANGES + 1 }, () => offered) }), { code: 'BadRequest' }, 'an offer of too many changes is refused');
});
