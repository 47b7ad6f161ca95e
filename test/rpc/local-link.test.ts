import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { t } from 'tap';
import { silentLogger } from '../../src/common/index.js';
import { LinkRefusal, LocalLink, NodeClient, NodeError, type ShardRef } from '../../src/rpc/index.js';
import { StorageNode } from '../../src/storage-node/index.js';
import { seededBytes } from '../helpers/bytes.js';
import { recordFor, tempDir } from '../storage-node/store-fixture.js';

const SECRET = 'local-link-test-secret';
const ERASURE = { dataShards: 4, parityShards: 2, blockSizeBytes: 65_536 };

type Teardown = { teardown(fn: () => Promise<void> | void): void };

/** A loopback address nothing listens on: any HTTP request to it fails, so only the link can answer. */
async function deadAddress(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `127.0.0.1:${port}`;
}

async function startNode(t: Teardown): Promise<StorageNode> {
  const node = new StorageNode({ nodeId: 'n0', dataDir: await tempDir(t, 'link'), host: '127.0.0.1', port: 0, clusterSecret: SECRET, logger: silentLogger(), healing: false });
  await node.start();
  t.teardown(() => node.close());
  return node;
}

/** A client of node n0 that can reach it only through its in-process link. */
async function linkOnlyClient(t: Teardown, node: StorageNode): Promise<{ client: NodeClient; link: LocalLink }> {
  const link = new LocalLink(node.openLocalLink());
  const client = new NodeClient({ nodeId: 'n0', address: await deadAddress(), clusterSecret: SECRET, local: link });
  t.teardown(async () => {
    await client.close();
    link.close();
  });
  return { client, link };
}

function ref(key: string): ShardRef {
  return { bucket: 'b', key, versionId: '0000000000010001aaaaaaaa', shardIndex: 2 };
}

t.test('a small shard is prepared, committed and read back with its version through the link alone', async (t) => {
  const node = await startNode(t);
  const { client } = await linkOnlyClient(t, node);
  const shard = seededBytes(900, 7);
  const answer = await client.prepareShard(ref('small'), ERASURE, shard, { fresh: true });
  t.equal(answer.sizeBytes, 900, 'the prepare answers the stored size');
  await client.commit({ record: recordFor(ref('small'), 3600), shardIndex: 2 });
  const status = await client.objectStatus('b', 'small', { withInlineShard: true });
  t.equal(status?.record.versionId, ref('small').versionId, 'the lookup finds the committed version');
  t.equal(status?.shardIndex, 2);
  t.ok(Buffer.from(status?.inlineShard ?? '', 'base64').equals(shard), 'with the shard bytes, as over HTTP');
  t.equal(await client.objectStatus('b', 'other'), null, 'a key the node does not hold answers null');
});

t.test("a call's own refusal comes back as that call's wire error, and its batch's other calls still apply", async (t) => {
  const node = await startNode(t);
  const { client } = await linkOnlyClient(t, node);
  await client.prepareShard(ref('held'), ERASURE, seededBytes(100, 1), { fresh: true });
  const [held, never] = await Promise.allSettled([
    client.commit({ record: recordFor(ref('held'), 400), shardIndex: 2 }),
    client.commit({ record: recordFor(ref('never-prepared'), 400), shardIndex: 2 }),
  ]);
  t.equal(held?.status, 'fulfilled', 'the prepared shard commits');
  t.match(never?.status === 'rejected' ? never.reason : undefined, { code: 'NotFound', nodeId: 'n0' }, 'the unprepared one fails with NotFound');
  t.equal((await client.objectStatus('b', 'held'))?.record.versionId, ref('held').versionId);
});

t.test('a batch that is not the route\'s message is refused whole with BadRequest, as the HTTP route refuses it', async (t) => {
  const node = await startNode(t);
  const { link } = await linkOnlyClient(t, node);
  for (const text of ['not json', '{"calls":5}', '{}', `{"calls":[${'{"op":"status"},'.repeat(10_000)}{}]}`, `{"calls":["${'x'.repeat(1024 * 1024)}"]}`]) {
    const refused = await link.batch(text).then(
      () => undefined,
      (err: unknown) => err,
    );
    t.ok(refused instanceof LinkRefusal, `refused: ${text.slice(0, 30)}`);
    t.equal((refused as LinkRefusal).code, 'BadRequest');
  }
  const answer = JSON.parse(await link.batch('{"calls":[{"op":"status"},{"op":"status","bucket":"b","key":"k","withInlineShard":false}]}')) as { results: { ok: boolean; code?: string }[] };
  t.match(answer.results, [{ ok: false, code: 'BadRequest' }, { ok: true }], 'a bad call inside a good batch fails alone');
});

t.test('a call whose signal has ended fails as an aborted request, and the link keeps serving', async (t) => {
  const node = await startNode(t);
  const { client } = await linkOnlyClient(t, node);
  const ended = AbortSignal.abort();
  const failure = await client.objectStatus('b', 'k', { signal: ended }).then(
    () => undefined,
    (err: unknown) => err,
  );
  t.ok(failure instanceof NodeError, 'a NodeError');
  t.equal((failure as NodeError).code, 'Unavailable');
  t.equal(await client.objectStatus('b', 'k'), null, 'the next call is answered');
});

t.test('once its node closes, the link fails every call as an unreachable node, at once', async (t) => {
  const node = await startNode(t);
  const { client } = await linkOnlyClient(t, node);
  t.equal(await client.objectStatus('b', 'k'), null);
  await node.close();
  const started = performance.now();
  const failure = await client.objectStatus('b', 'k').then(
    () => undefined,
    (err: unknown) => err,
  );
  t.ok(failure instanceof NodeError, 'a NodeError');
  t.equal((failure as NodeError).code, 'Unavailable', 'Unavailable, as a node that does not answer');
  t.ok(performance.now() - started < 5_000, 'without waiting for a deadline');
});
