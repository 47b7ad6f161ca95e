import { t } from 'tap';
import { TurnQueue } from '../../src/common/index.js';

const never = new AbortController().signal;

t.test('turns past the limit wait in arrival order; past the queue bound callers are refused', async (t) => {
  const turns = new TurnQueue({ maxActive: 2, maxQueued: 2, refusal: () => new Error('busy') });
  const first = await turns.enter(never);
  const second = await turns.enter(never);
  const order: string[] = [];
  const third = turns.enter(never).then((release) => (order.push('third'), release));
  const fourth = turns.enter(never).then((release) => (order.push('fourth'), release));
  t.same({ active: turns.active, queued: turns.queued }, { active: 2, queued: 2 });
  await t.rejects(turns.enter(never), { message: 'busy' });
  first();
  first();
  const releaseThird = await third;
  await Promise.resolve();
  t.same(order, ['third'], 'a double release passes one turn only');
  t.same({ active: turns.active, queued: turns.queued }, { active: 2, queued: 1 }, 'a passed turn stays counted');
  second();
  (await fourth)();
  t.same(order, ['third', 'fourth'], 'in arrival order');
  releaseThird();
  t.same({ active: turns.active, queued: turns.queued }, { active: 0, queued: 0 });
});

t.test('a waiter whose signal aborts leaves the line with its reason', async (t) => {
  const turns = new TurnQueue({ maxActive: 1, maxQueued: 1, refusal: () => new Error('busy') });
  const release = await turns.enter(never);
  const leaving = new AbortController();
  const waiting = turns.enter(leaving.signal);
  leaving.abort(new Error('gone'));
  await t.rejects(waiting, { message: 'gone' });
  t.equal(turns.queued, 0);
  const aborted = AbortSignal.abort(new Error('already gone'));
  await t.rejects(turns.enter(aborted), { message: 'already gone' });
  const next = turns.enter(never);
  release();
  (await next)();
  t.same({ active: turns.active, queued: turns.queued }, { active: 0, queued: 0 });
});

t.test('a waiter refused after maxWaitMs leaves the line', async (t) => {
  const turns = new TurnQueue({ maxActive: 1, maxQueued: 4, maxWaitMs: 20, refusal: () => new Error('waited too long') });
  const release = await turns.enter(never);
  await t.rejects(turns.enter(never), { message: 'waited too long' });
  t.equal(turns.queued, 0);
  release();
  t.equal(turns.active, 0);
  // A waiter admitted in time keeps its turn past maxWaitMs.
  const again = await turns.enter(never);
  const admitted = turns.enter(never);
  again();
  const held = await admitted;
  await new Promise((resolve) => setTimeout(resolve, 40));
  t.equal(turns.active, 1);
  held();
  t.equal(turns.active, 0);
});
