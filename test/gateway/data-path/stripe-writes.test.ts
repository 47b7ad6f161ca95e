import { getDefaultHighWaterMark, type Readable } from 'node:stream';
import { t } from 'tap';
import { createCodec } from '../../../src/erasure/index.js';
import { prepareShards, StripePool, type WriteTarget } from '../../../src/gateway/data-path/index.js';
import type { ErasureParams, NodeClient, PrepareResponse, ShardRef } from '../../../src/rpc/index.js';
import { seededBytes } from '../../helpers/bytes.js';

// The write pipeline against fake nodes whose pace each test controls: what they receive, how many stripe
// buffers a write allocates, and when a slow or silent node is cut off.

type Behaviour = 'read' | 'silent' | 'fail' | 'mute';

/** A node that reads its shard body (or never does, or refuses it) and keeps what it got. */
class FakeNode {
  readonly nodeId: string;
  readonly received: Buffer[] = [];
  behaviour: Behaviour;
  /** When set, the node waits for this before reading each piece. */
  gate: (() => Promise<void>) | undefined;
  aborted = 0;
  committed = 0;
  streamed = 0;
  sentWhole = 0;

  constructor(nodeId: string, behaviour: Behaviour = 'read') {
    this.nodeId = nodeId;
    this.behaviour = behaviour;
  }

  get bytes(): Buffer {
    return Buffer.concat(this.received);
  }

  async prepareShard(_ref: ShardRef, _erasure: ErasureParams, shard: Uint8Array, options: { signal?: AbortSignal } = {}): Promise<PrepareResponse> {
    this.sentWhole += 1;
    if (this.behaviour === 'fail') throw new Error('refused');
    if (this.behaviour === 'silent') {
      await new Promise<void>((_resolve, reject) => options.signal?.addEventListener('abort', () => reject(new Error('aborted'))));
    }
    this.received.push(Buffer.from(shard));
    return {} as PrepareResponse;
  }

  async putShard(_ref: ShardRef, _erasure: ErasureParams, body: Readable, options: { signal?: AbortSignal } = {}): Promise<PrepareResponse> {
    this.streamed += 1;
    if (this.behaviour === 'fail') {
      body.destroy();
      throw new Error('refused');
    }
    if (this.behaviour === 'silent') {
      // Never reads: only the writer's own rules (or an abort) end this upload.
      await new Promise<void>((_resolve, reject) => {
        body.on('close', () => reject(new Error('body closed')));
        options.signal?.addEventListener('abort', () => reject(new Error('aborted')));
      });
    }
    for await (const piece of body) {
      if (this.gate !== undefined) await this.gate();
      // Copy now: the writer may reuse its stripe buffers once a later block has been taken.
      this.received.push(Buffer.from(piece as Buffer));
    }
    if (this.behaviour === 'mute') {
      // Took the whole body and never answers (a link cut after the body went out): only an abort ends it.
      await new Promise<void>((_resolve, reject) => options.signal?.addEventListener('abort', () => reject(new Error('aborted'))));
    }
    return {} as PrepareResponse;
  }

  async commit(): Promise<void> {
    this.committed += 1;
  }

  async abort(): Promise<void> {
    this.aborted += 1;
  }
}

/** A pool that counts fresh allocations, to show reuse. */
class CountingPool extends StripePool {
  fresh = 0;
  acquired = 0;
  override acquire(sizeBytes: number): Uint8Array {
    this.acquired += 1;
    if (this.idleBuffers === 0) this.fresh += 1;
    return super.acquire(sizeBytes);
  }
}

const codec = createCodec({ dataShards: 4, parityShards: 2 });
// Blocks at least as large as a socket's write buffer, so finished stripes may be reused.
const blockSizeBytes = Math.max(64 * 1024, getDefaultHighWaterMark(false));
const erasure = { dataShards: 4, parityShards: 2, blockSizeBytes };

/** What shard i must hold for `body`, computed independently of the writer. */
function expectedShards(body: Buffer, blockBytes: number): Buffer[] {
  const out: Buffer[][] = Array.from({ length: 6 }, () => []);
  for (let start = 0; start < body.length; start += 4 * blockBytes) {
    const data = body.subarray(start, Math.min(body.length, start + 4 * blockBytes));
    const block = Math.ceil(data.length / 4);
    const padded = Buffer.alloc(block * 4);
    data.copy(padded);
    const shards = [0, 1, 2, 3].map((i) => padded.subarray(i * block, (i + 1) * block)) as Uint8Array[];
    shards.push(new Uint8Array(block), new Uint8Array(block));
    codec.encode(shards);
    shards.forEach((shard, i) => out[i]?.push(Buffer.from(shard)));
  }
  return out.map((parts) => Buffer.concat(parts));
}

async function* pieces(bytes: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

function target(nodes: FakeNode[]): WriteTarget {
  return { bucket: 'b', key: 'k', versionId: 'v1', nodes: nodes as unknown as NodeClient[], erasure, codec };
}

const fakeNodes = (behaviours: Behaviour[] = ['read', 'read', 'read', 'read', 'read', 'read']): FakeNode[] =>
  behaviours.map((behaviour, i) => new FakeNode(`n${i}`, behaviour));

t.test('a many-stripe body reaches every node intact while at most a few stripe buffers are ever allocated', async (t) => {
  const nodes = fakeNodes();
  const pool = new CountingPool({ maxIdle: 8 });
  const body = seededBytes(4 * blockSizeBytes * 24 + 12_345, 1);
  const { sizeBytes, holders } = await prepareShards(target(nodes), pieces(body, 50_000), {
    signal: new AbortController().signal,
    stallTimeoutMs: 60_000,
    expectedSizeBytes: body.length,
    stripePool: pool,
  });
  t.equal(sizeBytes, body.length);
  t.equal(holders.length, 6);
  const expected = expectedShards(body, blockSizeBytes);
  nodes.forEach((node, i) => t.ok(node.bytes.equals(expected[i] as Buffer), `shard ${i} byte-identical`));
  t.equal(pool.acquired, 24, 'every full stripe came from the pool (the short last one is sized to fit)');
  t.ok(pool.fresh <= 4, `buffers were reused: ${pool.fresh} allocated for 24 stripes`);
  t.ok(pool.idleBuffers >= 1, 'and handed back at the end');
});

t.test('a slow node bounds what is queued: the writer waits instead of buffering the object', async (t) => {
  const nodes = fakeNodes();
  const slow = nodes[5] as FakeNode;
  let releases: (() => void)[] = [];
  slow.gate = () => new Promise<void>((resolve) => releases.push(resolve));
  const pool = new CountingPool({ maxIdle: 8 });
  let consumed = 0;
  const body = seededBytes(4 * blockSizeBytes * 12, 2);
  async function* counted(): AsyncGenerator<Buffer> {
    for await (const piece of pieces(body, 4 * blockSizeBytes)) {
      consumed += piece.length;
      yield piece;
    }
  }
  const writing = prepareShards(target(nodes), counted(), { signal: new AbortController().signal, stallTimeoutMs: 60_000, stripePool: pool });
  // Let the pipeline run until it blocks on the gated node.
  for (let i = 0; i < 50; i += 1) await new Promise((resolve) => setImmediate(resolve));
  // The slow node's reader takes whatever is queued in one read (two stripes), then two more may wait for it.
  t.ok(consumed <= 6 * 4 * blockSizeBytes, `the body was read only a few stripes ahead of the slow node (${consumed / (4 * blockSizeBytes)} of 12 stripes)`);
  const drain = setInterval(() => {
    const pending = releases;
    releases = [];
    for (const release of pending) release();
  }, 1);
  const { holders } = await writing;
  clearInterval(drain);
  t.equal(holders.length, 6, 'the slow node finished and holds its shard');
  t.ok(slow.bytes.equals(expectedShards(body, blockSizeBytes)[5] as Buffer));
  t.ok(pool.fresh <= 4, `${pool.fresh} stripe buffers allocated`);
});

t.test('a node that takes nothing is cut off after the stall timeout and the write succeeds on the others', async (t) => {
  const nodes = fakeNodes(['read', 'read', 'silent', 'read', 'read', 'read']);
  const body = seededBytes(4 * blockSizeBytes * 6 + 7, 3);
  const { holders } = await prepareShards(target(nodes), pieces(body, 65_536), {
    signal: new AbortController().signal,
    stallTimeoutMs: 200,
    stripePool: new StripePool({ maxIdle: 4 }),
  });
  t.same(holders.map((sink) => sink.nodeId).sort(), ['n0', 'n1', 'n3', 'n4', 'n5']);
  const expected = expectedShards(body, blockSizeBytes);
  for (const i of [0, 1, 3, 4, 5]) t.ok(nodes[i]?.bytes.equals(expected[i] as Buffer), `shard ${i}`);
});

t.test('below the write quorum the write fails with 503, aborting what the live nodes prepared', async (t) => {
  const nodes = fakeNodes(['read', 'fail', 'silent', 'fail', 'read', 'read']);
  await t.rejects(
    prepareShards(target(nodes), pieces(seededBytes(4 * blockSizeBytes * 3, 4), 65_536), { signal: new AbortController().signal, stallTimeoutMs: 200 }),
    { code: 'ServiceUnavailable' },
  );
  t.ok(nodes.every((node) => node.aborted === 1), 'every node was told to abort');
});

t.test('nodes that take a whole shard and never answer are cut off after the stall timeout: below the quorum the write fails with 503', async (t) => {
  const nodes = fakeNodes(['read', 'mute', 'mute', 'mute', 'read', 'read']);
  const started = performance.now();
  await t.rejects(
    prepareShards(target(nodes), pieces(seededBytes(4 * blockSizeBytes * 2, 5), 65_536), { signal: new AbortController().signal, stallTimeoutMs: 200 }),
    { code: 'ServiceUnavailable' },
  );
  // Bounded by the stall timeout, not by the node client's backstop: a generous margin for a loaded machine.
  t.ok(performance.now() - started < 30_000, 'the write gave up on the mute nodes');
  t.ok(nodes.every((node) => node.aborted === 1), 'every node was told to abort');
});

t.test('short bodies: sized by Content-Length, by what arrives, or longer than declared, the shards are the same', async (t) => {
  for (const [size, declared, pieceBytes] of [
    [0, 0, 1],
    [1, 1, 1],
    [4096, 4096, 1000],
    [4096, undefined, 1000],
    [300_000, undefined, 7_000],
    [5_000, 10, 999],
    [4 * blockSizeBytes + 1, 4 * blockSizeBytes + 1, 65_536],
    [4 * blockSizeBytes - 1, undefined, 4 * blockSizeBytes],
  ] as const) {
    const nodes = fakeNodes();
    const pool = new CountingPool({ maxIdle: 4 });
    const body = seededBytes(size, size + 11);
    const { sizeBytes } = await prepareShards(target(nodes), pieces(body, pieceBytes), {
      signal: new AbortController().signal,
      stallTimeoutMs: 60_000,
      expectedSizeBytes: declared,
      stripePool: pool,
    });
    t.equal(sizeBytes, size);
    const expected = expectedShards(body, blockSizeBytes);
    t.ok(
      nodes.every((node, i) => node.bytes.equals(expected[i] ?? Buffer.alloc(0))),
      `${size} bytes (declared ${declared ?? 'unknown'}) in ${pieceBytes}-byte pieces`,
    );
    if (declared === size && size < 4 * blockSizeBytes) t.equal(pool.acquired, 0, 'no whole stripe for a short body');
  }
});

t.test('a body that ends within one stripe of small shards is sent whole to each node, a longer one is streamed', async (t) => {
  const small = fakeNodes();
  await prepareShards(target(small), pieces(seededBytes(20_000, 1), 3_000), { signal: new AbortController().signal, stallTimeoutMs: 60_000 });
  t.same(small.map((node) => [node.sentWhole, node.streamed]), small.map(() => [1, 0]), '20,000 bytes: one whole-shard prepare per node');
  t.ok(small.every((node, i) => node.bytes.equals(expectedShards(seededBytes(20_000, 1), blockSizeBytes)[i] ?? Buffer.alloc(0))), 'with the right bytes');
  const large = fakeNodes();
  await prepareShards(target(large), pieces(seededBytes(200_000, 2), 3_000), { signal: new AbortController().signal, stallTimeoutMs: 60_000 });
  t.same(large.map((node) => [node.sentWhole, node.streamed]), large.map(() => [0, 1]), '200,000 bytes (shards over 32 KiB): streamed');
  const declared = fakeNodes();
  await prepareShards(target(declared), pieces(seededBytes(200_000, 3), 3_000), { signal: new AbortController().signal, stallTimeoutMs: 60_000, expectedSizeBytes: 200_000 });
  t.same(declared.map((node) => node.streamed), declared.map(() => 1), 'a large declared size streams from the first byte');
});

t.test('a small write below the write quorum fails with 503 and every node is told to abort', async (t) => {
  const nodes = fakeNodes();
  for (const node of nodes.slice(0, 3)) node.behaviour = 'fail';
  await t.rejects(prepareShards(target(nodes), pieces(seededBytes(1_000, 5), 1_000), { signal: new AbortController().signal, stallTimeoutMs: 200 }), { code: 'ServiceUnavailable' });
  t.ok(nodes.every((node) => node.aborted === 1), 'every node was told to abort');
});
