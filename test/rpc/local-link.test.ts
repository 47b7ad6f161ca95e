import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { MessageChannel } from 'node:worker_threads';
import { t } from 'tap';
import { silentLogger } from '../../src/common/index.js';
import { LinkRefusal, LocalLink, NodeClient, NodeError, WireError, serveLocalLink, type LinkService, type ShardRef } from '../../src/rpc/index.js';
import { StorageNode } from '../../src/storage-node/index.js';
import { collect, seededBytes } from '../helpers/bytes.js';
import { until } from '../helpers/until.js';
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

/** A client of node n0 over HTTP, as a cluster's gateway speaks to it. */
function httpClient(t: Teardown, node: StorageNode): NodeClient {
  const http = new NodeClient({ nodeId: 'n0', address: `127.0.0.1:${node.address.port}`, clusterSecret: SECRET });
  t.teardown(() => http.close());
  return http;
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

t.test('a file shard is read over the link from any offset, the same bytes as over HTTP, in pieces larger than the window', async (t) => {
  const node = await startNode(t);
  const { client } = await linkOnlyClient(t, node);
  const http = httpClient(t, node);
  const big = ref('big');
  const shard = seededBytes(3 * 1024 * 1024 + 12_345, 11);
  await http.putShard(big, ERASURE, Readable.from([shard]));
  await http.commit({ record: recordFor(big, 4 * shard.length), shardIndex: 2 });
  for (const [offset, length] of [[0, shard.length], [70_000, 2_000_000], [shard.length - 10, 10], [5, 0]] as const) {
    const overLink = await collect(await client.readShard(big, offset, length));
    t.ok(overLink.equals(shard.subarray(offset, offset + length)), `offset ${offset}, ${length} bytes: the shard's bytes`);
    t.ok(overLink.equals(await collect(await http.readShard(big, offset, length))), 'as HTTP reads them');
  }
  const missing = await client.readShard(ref('nothing'), 0, 10).then(
    () => undefined,
    (err: unknown) => err,
  );
  t.match(missing, { code: 'NotFound', nodeId: 'n0' }, 'a shard the node does not hold is refused before any body, as the route refuses it');
});

function refusal(err: unknown): { code: string; message: string } {
  return { code: err instanceof WireError ? err.code : 'Internal', message: (err as Error).message };
}

/** A body of `chunks` chunks of 64 KiB made as they are read, counting the reads. */
function countedBody(chunks: number): { body: Readable; pulled: () => number } {
  let pulled = 0;
  const body = new Readable({
    highWaterMark: 0,
    read() {
      if (pulled === chunks) return void this.push(null);
      pulled += 1;
      this.push(new Uint8Array(65_536).fill(pulled % 251));
    },
  });
  return { body, pulled: () => pulled };
}

/**
 * A node's end of a link serving reads of `chunks` chunks of 64 KiB (or `chunkBytes`), counting what the
 * reader was asked for. Every chunk is yielded from one buffer the reader refills, as a transient shard
 * read reuses its direct buffer: a sender that kept a chunk past asking for the next would send wrong bytes.
 */
function countingService(chunks: number, options: { failAfter?: number; chunkBytes?: number } = {}): { service: LinkService; produced: () => number; ended: () => boolean } {
  let produced = 0;
  let ended = false;
  const chunkBytes = options.chunkBytes ?? 65_536;
  const service: LinkService = {
    batch: async (text) => text,
    read: async () => ({
      sizeBytes: chunks * chunkBytes,
      chunks: (async function* () {
        const reused = new Uint8Array(chunkBytes);
        for (let i = 0; i < chunks; i++) {
          if (i === options.failAfter) throw new WireError('NotFound', 'shard gone while read');
          produced += 1;
          yield reused.fill(i % 251);
        }
      })(),
      end: () => {
        ended = true;
      },
    }),
    upload: async () => {
      throw new WireError('BadRequest', 'this node takes no uploads');
    },
    refusal,
    readFailed: () => undefined,
  };
  return { service, produced: () => produced, ended: () => ended };
}

function linkTo(t: Teardown, service: LinkService): LocalLink {
  return linkWithMessages(t, service).link;
}

/** A link to `service`, and the byte counts of the read messages its caller's port received, in order. */
function linkWithMessages(t: Teardown, service: LinkService): { link: LocalLink; messageBytes: number[] } {
  const { port1, port2 } = new MessageChannel();
  const closeServer = serveLocalLink(port1, service);
  const link = new LocalLink(port2);
  const messageBytes: number[] = [];
  port2.on('message', (message: { chunk?: ArrayBuffer }) => {
    if (message.chunk !== undefined) messageBytes.push(message.chunk.byteLength);
  });
  t.teardown(() => {
    link.close();
    closeServer();
  });
  return { link, messageBytes };
}

/** The bytes of a read of countingService: chunk i of `chunkBytes` is all i % 251. */
function countedBytes(chunks: number, chunkBytes: number): Buffer {
  const bytes = Buffer.alloc(chunks * chunkBytes);
  for (let i = 0; i < chunks; i++) bytes.fill(i % 251, i * chunkBytes, (i + 1) * chunkBytes);
  return bytes;
}

t.test("a read's chunks cross the link gathered into full messages of a stripe block, each chunk copied before the next is read", async (t) => {
  for (const { chunks, chunkBytes, expected } of [
    { chunks: 40, chunkBytes: 65_536, expected: Array<number>(10).fill(262_144) },
    // Chunks that do not divide a message are split across two: every message but the last is full.
    { chunks: 7, chunkBytes: 100_000, expected: [262_144, 262_144, 175_712] },
    { chunks: 3, chunkBytes: 300_000, expected: [262_144, 262_144, 262_144, 113_568] },
  ]) {
    const { service } = countingService(chunks, { chunkBytes });
    const { link, messageBytes } = linkWithMessages(t, service);
    const { sizeBytes, body } = await link.read('q');
    t.equal(sizeBytes, chunks * chunkBytes);
    t.ok((await collect(body)).equals(countedBytes(chunks, chunkBytes)), `${chunks} chunks of ${chunkBytes} bytes arrive whole and in order`);
    t.same(messageBytes, expected, `in ${expected.length} messages`);
  }
});

t.test('a read nobody consumes stops at the window: the node reads on only as the caller takes its chunks', async (t) => {
  const { service, produced } = countingService(1024);
  const link = linkTo(t, service);
  const { sizeBytes, body } = await link.read('q');
  t.equal(sizeBytes, 64 * 1024 * 1024);
  await until('the first window is sent', async () => produced() >= 16, 10_000, 5);
  // Many round trips on the same link give the node's read every chance to run ahead, were it unbounded.
  for (let i = 0; i < 20; i++) await link.batch('{}');
  t.ok(produced() <= 24, `at most the window and the stream's mark are read ahead (${produced()} of 1024 chunks)`);
  // Chunk i is 64 KiB of i % 251: each piece read must hold, at each offset, its chunk's value.
  let total = 0;
  let wrong = 0;
  for await (const piece of body as AsyncIterable<Buffer>) {
    for (let at = 0; at < piece.length; at += 4096) if (piece[at] !== Math.floor((total + at) / 65_536) % 251) wrong += 1;
    if (piece[piece.length - 1] !== Math.floor((total + piece.length - 1) / 65_536) % 251) wrong += 1;
    total += piece.length;
  }
  t.equal(total, 64 * 1024 * 1024, 'once consumed, the whole read arrives');
  t.equal(wrong, 0, 'every chunk whole and in order');
});

t.test('a body given up part way stops the node\'s read and ends it, and the link serves on', async (t) => {
  const { service, produced, ended } = countingService(1024);
  const link = linkTo(t, service);
  const { body } = await link.read('q');
  await until('some chunks arrive', async () => body.readableLength > 0, 10_000, 5);
  body.destroy();
  await until('the node ends the read', async () => ended(), 10_000, 5);
  t.ok(produced() < 1024, 'the node stopped reading');
  t.equal(await link.batch('{"still":"served"}'), '{"still":"served"}');
});

t.test('a read that fails after its size was sent ends its body with the node\'s error', async (t) => {
  const { service } = countingService(40, { failAfter: 3 });
  const link = linkTo(t, service);
  const { body } = await link.read('q');
  let received = 0;
  const failure = await (async () => {
    for await (const chunk of body as AsyncIterable<Buffer>) received += chunk.length;
  })().then(
    () => undefined,
    (err: unknown) => err,
  );
  t.equal(received, 3 * 65_536, 'the chunks read before the failure arrive');
  t.ok(failure instanceof LinkRefusal, 'then the body fails');
  t.equal((failure as LinkRefusal).code, 'NotFound', 'with the code the node gave');
});

t.test('a body open when its node closes fails instead of waiting', async (t) => {
  const node = await startNode(t);
  const { client } = await linkOnlyClient(t, node);
  const http = httpClient(t, node);
  const big = ref('big');
  await http.putShard(big, ERASURE, Readable.from([seededBytes(4 * 1024 * 1024, 3)]));
  await http.commit({ record: recordFor(big, 16 * 1024 * 1024), shardIndex: 2 });
  const body = await client.readShard(big, 0, 4 * 1024 * 1024);
  const closing = node.close();
  const failure = await collect(body).then(
    () => undefined,
    (err: unknown) => err,
  );
  await closing;
  t.ok(failure instanceof Error, 'the body fails');
});

t.test('a shard uploaded over the link alone is stored durably, and reads back the same over HTTP', async (t) => {
  const node = await startNode(t);
  const { client } = await linkOnlyClient(t, node);
  const http = httpClient(t, node);
  for (const [key, sizeBytes] of [['file', 3 * 1024 * 1024 + 777], ['inline', 900]] as const) {
    const shard = seededBytes(sizeBytes, sizeBytes);
    const pieces = Array.from({ length: Math.ceil(sizeBytes / 65_536) }, (_, i) => shard.subarray(i * 65_536, (i + 1) * 65_536));
    const answer = await client.putShard(ref(key), ERASURE, Readable.from(pieces), { fresh: true });
    t.equal(answer.sizeBytes, sizeBytes, `${key}: the prepare answers the stored size`);
    await client.commit({ record: recordFor(ref(key), 4 * sizeBytes), shardIndex: 2 });
    t.ok((await collect(await http.readShard(ref(key), 0, sizeBytes))).equals(shard), `${key}: HTTP reads the same bytes back`);
  }
});

t.test("an upload takes its body's chunks only as the node takes them", async (t) => {
  let release: () => void = () => undefined;
  const released = new Promise<void>((resolve) => (release = resolve));
  let stored = 0;
  const { service } = countingService(0);
  const link = linkTo(t, {
    ...service,
    upload: async (_query, body) => {
      await released;
      for await (const chunk of body as AsyncIterable<Buffer>) stored += chunk.length;
      return JSON.stringify({ sizeBytes: stored });
    },
  });
  const { body, pulled } = countedBody(1024);
  const answer = link.upload('q', body);
  await until('the first window is sent', async () => pulled() >= 16, 10_000, 5);
  for (let i = 0; i < 20; i++) await link.batch('{}');
  t.ok(pulled() <= 20, `a node that takes nothing is sent about one window (${pulled()} of 1024 chunks read)`);
  release();
  t.same(JSON.parse(await answer), { sizeBytes: 64 * 1024 * 1024 }, 'once the node takes them, the whole body arrives');
});

t.test('an upload the node refuses stops reading its body, and the caller hears the refusal', async (t) => {
  const node = await startNode(t);
  const { client } = await linkOnlyClient(t, node);
  const { body, pulled } = countedBody(1024);
  const failure = await client.putShard(ref('bad'), { dataShards: 0, parityShards: 2, blockSizeBytes: 65_536 }, body).then(
    () => undefined,
    (err: unknown) => err,
  );
  t.match(failure, { code: 'BadRequest', nodeId: 'n0' }, 'the route\'s refusal of its erasure parameters');
  t.ok(pulled() <= 20, `the body was not drained (${pulled()} of 1024 chunks read)`);
  t.equal(await client.objectStatus('b', 'bad'), null, 'nothing was stored');
});

t.test("an aborted upload aborts the node's store of it, and fails as an aborted request", async (t) => {
  let nodeSignal: AbortSignal | undefined;
  const { service } = countingService(0);
  const link = linkTo(t, {
    ...service,
    upload: async (_query, body, signal) => {
      nodeSignal = signal;
      for await (const chunk of body as AsyncIterable<Buffer>) void chunk;
      return '{}';
    },
  });
  const { body } = countedBody(1024 * 1024);
  const abort = new AbortController();
  const answer = link.upload('q', body, abort.signal).then(
    () => undefined,
    (err: unknown) => err,
  );
  await until('the node is storing the upload', async () => nodeSignal !== undefined, 10_000, 5);
  abort.abort();
  t.match(await answer, { name: 'AbortError' }, 'the caller sees an aborted request');
  await until("the node's signal aborts", async () => nodeSignal?.aborted === true, 10_000, 5);
  t.ok(body.destroyed, "the caller's body is given up");
});

t.test("a batch its caller stops waiting for aborts the node's signal for it, and the link serves on", async (t) => {
  const { service } = countingService(1);
  let seen: AbortSignal | undefined;
  const link = linkTo(t, {
    ...service,
    batch: async (text, signal) => {
      if (text !== '"wait"') return text;
      seen = signal;
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
      throw new WireError('Unavailable', 'cancelled');
    },
  });
  const caller = new AbortController();
  const waiting = link.batch('"wait"', caller.signal).catch((err: unknown) => err);
  await until('the node serves the batch', async () => seen !== undefined, 10_000, 5);
  t.equal(seen?.aborted, false, 'the signal is live while the caller waits');
  caller.abort();
  t.match(await waiting, { name: 'AbortError' }, 'the caller hears its own abort');
  await until('the node hears the cancel', async () => seen?.aborted === true, 10_000, 5);
  t.equal(await link.batch('{"still":"served"}'), '{"still":"served"}');
});
