import { t } from 'tap';
import { decideQuorum, fanOut, fanOutHedged, fanOutUntil, isTimeoutFailure } from '../../src/rpc/index.js';

t.test('fanOut: one outcome per node, in the nodes order, named by nodeId or by ring id', async (t) => {
  const clients = [{ nodeId: 'a' }, { nodeId: 'b' }, { nodeId: 'c' }];
  const outcomes = await fanOut(clients, async (node) => {
    if (node.nodeId === 'b') throw Object.assign(new Error('refused'), { code: 'Unavailable' });
    return node.nodeId.toUpperCase();
  });
  t.same(
    outcomes.map((o) => [o.nodeId, o.ok]),
    [
      ['a', true],
      ['b', false],
      ['c', true],
    ],
  );
  const members = [
    { id: 'n1', address: 'x' },
    { id: 'n2', address: 'y' },
  ];
  const fromRing = await fanOut(members, (node) => Promise.resolve(node.address));
  t.same(fromRing, [
    { nodeId: 'n1', ok: true, value: 'x' },
    { nodeId: 'n2', ok: true, value: 'y' },
  ]);
  const decision = decideQuorum(outcomes, 2);
  t.equal(decision.met, true);
  t.same(decision.successes, [
    { nodeId: 'a', value: 'A' },
    { nodeId: 'c', value: 'C' },
  ]);
  t.same(decision.failures, [{ nodeId: 'b', reason: 'Unavailable: refused' }]);
});

t.test('fanOutUntil: resolves once enough have answered, leaving a hung node behind', async (t) => {
  const hung = new Promise<string>(() => undefined);
  const nodes = [{ id: 'fast' }, { id: 'hung' }, { id: 'also-fast' }];
  const outcomes = await fanOutUntil(
    nodes,
    (node) => (node.id === 'hung' ? hung : Promise.resolve(node.id)),
    (sofar) => sofar.filter((o) => o.ok).length >= 2,
  );
  t.same(outcomes.map((o) => o.nodeId).sort(), ['also-fast', 'fast']);
  t.same(await fanOutUntil([], () => hung, () => false), [], 'no nodes: nothing to wait for');
});

t.test('fanOutUntil: after enough, waits up to the grace for stragglers, and no longer once complete', async (t) => {
  const hung = new Promise<string>(() => undefined);
  let answerLate: (value: string) => void = () => undefined;
  const late = new Promise<string>((resolve) => (answerLate = resolve));
  const nodes = [{ id: 'a' }, { id: 'b' }, { id: 'late' }, { id: 'hung' }];
  const call = (node: { id: string }): Promise<string> => (node.id === 'hung' ? hung : node.id === 'late' ? late : Promise.resolve(node.id));
  const enough = (sofar: readonly { ok: boolean }[]): boolean => sofar.filter((o) => o.ok).length >= 2;
  const waiting = fanOutUntil(nodes, call, enough, 60_000, (sofar) => sofar.some((o) => o.nodeId === 'late'));
  setImmediate(() => answerLate('late'));
  t.same((await waiting).map((o) => o.nodeId).sort(), ['a', 'b', 'late'], 'the late answer is waited for; the hung node is not');
  const started = Date.now();
  const graceOnly = await fanOutUntil(nodes, call, enough, 50, () => false);
  t.ok(Date.now() - started >= 45, 'without completion the grace runs out');
  t.same(graceOnly.map((o) => o.nodeId).sort(), ['a', 'b', 'late']);
});

t.test('decideQuorum marks the nodes that ran out of time (slow), not those that refused (down)', async (t) => {
  const timeout = new DOMException('The operation was aborted due to timeout', 'TimeoutError');
  const outcomes = await fanOut([{ nodeId: 'slow' }, { nodeId: 'down' }, { nodeId: 'slow-headers' }], async (node) => {
    if (node.nodeId === 'slow') throw Object.assign(new Error('request aborted', { cause: timeout }), { code: 'Unavailable' });
    if (node.nodeId === 'slow-headers') throw Object.assign(new Error('Headers Timeout Error'), { code: 'UND_ERR_HEADERS_TIMEOUT' });
    throw Object.assign(new Error('node unreachable: connect ECONNREFUSED'), { code: 'Unavailable', cause: Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }) });
  });
  const decision = decideQuorum(outcomes, 1);
  t.same(
    decision.failures.map((f) => [f.nodeId, f.timedOut === true]),
    [
      ['slow', true],
      ['down', false],
      ['slow-headers', true],
    ],
  );
  t.equal(isTimeoutFailure(new Error('plain')), false);
});

t.test('fanOutHedged: the first nodes settle a healthy lookup and the rest are never asked', async (t) => {
  const asked: string[] = [];
  const call = async (node: { id: string }): Promise<string> => {
    asked.push(node.id);
    return node.id;
  };
  const outcomes = await fanOutHedged([{ id: 'd0' }, { id: 'd1' }, { id: 'd2' }], [{ id: 'p0' }, { id: 'p1' }], call, {
    enough: (sofar) => sofar.filter((o) => o.ok).length >= 3,
    hedgeMs: 60_000,
  });
  t.same(outcomes.map((o) => o.nodeId).sort(), ['d0', 'd1', 'd2']);
  t.same(asked.sort(), ['d0', 'd1', 'd2'], 'no parity holder asked');
});

t.test('fanOutHedged: a failing first node brings the rest in at once, without waiting for the hedge', async (t) => {
  const asked: string[] = [];
  const call = async (node: { id: string }): Promise<string> => {
    asked.push(node.id);
    if (node.id === 'd1') throw Object.assign(new Error('refused'), { code: 'Unavailable' });
    return node.id;
  };
  const started = Date.now();
  const outcomes = await fanOutHedged([{ id: 'd0' }, { id: 'd1' }, { id: 'd2' }], [{ id: 'p0' }, { id: 'p1' }], call, {
    enough: (sofar) => sofar.filter((o) => o.ok).length >= 3,
    hedgeMs: 60_000,
  });
  t.ok(Date.now() - started < 30_000, 'settled long before the hedge');
  t.equal(outcomes.filter((o) => o.ok).length >= 3, true);
  t.ok(asked.includes('p0') && asked.includes('p1'), 'the parity holders were asked');
});

t.test('fanOutHedged: first answers that do not settle it bring the rest in; a hung first node brings them in after the hedge', async (t) => {
  const enough = (sofar: readonly { ok: boolean; nodeId: string }[]): boolean => sofar.some((o) => o.ok && o.nodeId.startsWith('p'));
  const unsettled = await fanOutHedged([{ id: 'd0' }, { id: 'd1' }], [{ id: 'p0' }], async (node) => node.id, { enough, hedgeMs: 60_000 });
  t.same(unsettled.map((o) => o.nodeId), ['d0', 'd1', 'p0'], 'all first answered without enough: the rest asked');

  const hung = new Promise<string>(() => undefined);
  const started = Date.now();
  const hedged = await fanOutHedged([{ id: 'd0' }, { id: 'hung' }], [{ id: 'p0' }], (node) => (node.id === 'hung' ? hung : Promise.resolve(node.id)), {
    enough: (sofar) => sofar.filter((o) => o.ok).length >= 2,
    hedgeMs: 50,
  });
  t.ok(Date.now() - started >= 45, 'the rest were asked once the hedge passed');
  t.same(hedged.map((o) => o.nodeId), ['d0', 'p0']);

  const nobodyAnswers = await fanOutHedged([{ id: 'd0' }], [{ id: 'p0' }], async (node): Promise<string> => {
    throw new Error(`${node.id} down`);
  }, { enough: () => false, hedgeMs: 60_000 });
  t.same(nobodyAnswers.map((o) => [o.nodeId, o.ok]), [['d0', false], ['p0', false]], 'every node failed: all outcomes, no hang');
});
