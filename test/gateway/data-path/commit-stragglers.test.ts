import { t } from 'tap';
import { createCodec } from '../../../src/erasure/index.js';
import { commitShards, prepareShards, type WriteTarget } from '../../../src/gateway/data-path/index.js';
import type { NodeClient, ObjectRecord, PrepareResponse } from '../../../src/rpc/index.js';
import { seededBytes } from '../../helpers/bytes.js';

// A write whose prepare reached exactly a write quorum in time (two nodes slow under load) and whose
// commit then loses one of those holders (its node crashed): one fault, which 4+2 must absorb.

/** A node whose prepare waits for `gate` when one is set, and whose commit can fail. */
class FakeNode {
  readonly nodeId: string;
  gate: Promise<void> | undefined;
  commitFails = false;
  committed = 0;

  constructor(nodeId: string) {
    this.nodeId = nodeId;
  }

  async prepareShard(): Promise<PrepareResponse> {
    await this.gate;
    return {} as PrepareResponse;
  }

  async commit(): Promise<void> {
    if (this.commitFails) throw new Error('node unreachable: connection refused');
    this.committed += 1;
  }

  async abort(): Promise<void> {}
}

const erasure = { dataShards: 4, parityShards: 2, blockSizeBytes: 64 * 1024 };
const codec = createCodec({ dataShards: 4, parityShards: 2 });

async function* once(bytes: Buffer): AsyncGenerator<Buffer> {
  yield bytes;
}

const record = { bucket: 'b', key: 'k', versionId: 'v1' } as ObjectRecord;

t.test('a commit that loses a holder to a crash uses a node whose prepare finished after the quorum', async (t) => {
  const nodes = Array.from({ length: 6 }, (_, i) => new FakeNode(`n${i}`));
  let releaseSlow = (): void => undefined;
  const slow = new Promise<void>((resolve) => {
    releaseSlow = resolve;
  });
  // n4 answers only after the write quorum and its grace; n5 never answers.
  (nodes[4] as FakeNode).gate = slow;
  (nodes[5] as FakeNode).gate = new Promise<void>(() => undefined);
  const target: WriteTarget = { bucket: 'b', key: 'k', versionId: 'v1', nodes: nodes as unknown as NodeClient[], erasure, codec };
  const prepared = await prepareShards(target, once(seededBytes(20_000, 7)), { signal: new AbortController().signal, stallTimeoutMs: 60_000 });
  t.same(prepared.holders.map((h) => h.nodeId), ['n0', 'n1', 'n2', 'n3'], 'four nodes answered in time: exactly a write quorum');
  t.equal(prepared.stragglers.length, 2, 'two prepares were still running');

  (nodes[0] as FakeNode).commitFails = true;
  releaseSlow();
  await commitShards(target, prepared.holders, record, AbortSignal.timeout(30_000), prepared.stragglers);
  t.same(nodes.map((n) => n.committed), [0, 1, 1, 1, 1, 0], 'n1-n3 and the late n4 committed: the write holds with one node lost');
});

t.test('without a late prepare to fall back on, a commit short of the quorum is still refused', async (t) => {
  const nodes = Array.from({ length: 6 }, (_, i) => new FakeNode(`n${i}`));
  (nodes[4] as FakeNode).gate = new Promise<void>(() => undefined);
  (nodes[5] as FakeNode).gate = new Promise<void>(() => undefined);
  const target: WriteTarget = { bucket: 'b', key: 'k', versionId: 'v1', nodes: nodes as unknown as NodeClient[], erasure, codec };
  const prepared = await prepareShards(target, once(seededBytes(20_000, 8)), { signal: new AbortController().signal, stallTimeoutMs: 60_000 });
  (nodes[0] as FakeNode).commitFails = true;
  const started = performance.now();
  // A referenced timer (AbortSignal.timeout's is not): nothing else keeps this test's event loop alive.
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(), 1_000);
  t.teardown(() => clearTimeout(timer));
  await t.rejects(commitShards(target, prepared.holders, record, deadline.signal, prepared.stragglers), { code: 'ServiceUnavailable' });
  t.ok(performance.now() - started < 20_000, 'refused once the commit deadline passed, not later');
});
