import { t } from 'tap';
import { S3_REGISTER, isLinearizable, type Operation, type RegisterInput, type RegisterOutput } from '../helpers/linearizability.js';

type Op = Operation<RegisterInput, RegisterOutput>;
const op = (client: number, callMs: number, returnMs: number, input: RegisterInput, output: RegisterOutput): Op => ({ client, callMs, returnMs, input, output });

t.test('sequential and overlapping histories that a register explains are linearizable', async (t) => {
  t.ok(isLinearizable(S3_REGISTER, []));
  t.ok(isLinearizable(S3_REGISTER, [op(0, 0, 1, { op: 'put', value: 'a' }, { applied: true }), op(1, 2, 3, { op: 'get' }, { value: 'a' })]));
  // A read overlapping a write may see either side of it.
  const write = op(0, 0, 10, { op: 'put', value: 'a' }, { applied: true });
  t.ok(isLinearizable(S3_REGISTER, [write, op(1, 1, 2, { op: 'get' }, { value: null }), op(2, 3, 4, { op: 'get' }, { value: 'a' })]));
  t.ok(isLinearizable(S3_REGISTER, [op(0, 0, 1, { op: 'put-if-absent', value: 'a' }, { applied: true }), op(1, 2, 3, { op: 'put-if-absent', value: 'b' }, { applied: false })]));
  t.ok(isLinearizable(S3_REGISTER, [op(0, 0, 1, { op: 'put', value: 'a' }, { applied: true }), op(1, 2, 3, { op: 'put-if-match', expected: 'a', value: 'b' }, { applied: true }), op(0, 4, 5, { op: 'get' }, { value: 'b' })]));
});

t.test('stale reads, lost writes and double-granted conditions are caught', async (t) => {
  const put = op(0, 0, 1, { op: 'put', value: 'a' }, { applied: true });
  t.notOk(isLinearizable(S3_REGISTER, [put, op(1, 2, 3, { op: 'get' }, { value: null })]), 'a read after an acknowledged write sees it');
  t.notOk(
    isLinearizable(S3_REGISTER, [op(0, 0, 5, { op: 'put-if-absent', value: 'a' }, { applied: true }), op(1, 0, 5, { op: 'put-if-absent', value: 'b' }, { applied: true })]),
    'two exclusive creates cannot both win',
  );
  t.notOk(
    isLinearizable(S3_REGISTER, [put, op(1, 2, 3, { op: 'get' }, { value: 'a' }), op(2, 4, 5, { op: 'put', value: 'b' }, { applied: true }), op(1, 6, 7, { op: 'get' }, { value: 'a' })]),
    'no going back to an overwritten value',
  );
});

t.test('an operation with an unknown outcome may have happened at any time after its call, or not visibly at all', async (t) => {
  const unknownWrite = op(0, 0, Infinity, { op: 'put', value: 'a' }, { unknown: true });
  t.ok(isLinearizable(S3_REGISTER, [unknownWrite, op(1, 5, 6, { op: 'get' }, { value: null })]));
  t.ok(isLinearizable(S3_REGISTER, [unknownWrite, op(1, 5, 6, { op: 'get' }, { value: 'a' })]));
  t.notOk(isLinearizable(S3_REGISTER, [op(1, 0, 1, { op: 'get' }, { value: 'a' }), op(0, 5, Infinity, { op: 'put', value: 'a' }, { unknown: true })]), 'but not before it was called');
});

t.test('a long concurrent history is checked quickly', async (t) => {
  const history: Op[] = [];
  let value: string | null = null;
  for (let i = 0; i < 600; i += 1) {
    if (i % 3 === 0) {
      value = `v${i}`;
      history.push(op(i % 4, i, i + 2.5, { op: 'put', value }, { applied: true }));
    } else history.push(op(i % 4, i, i + 0.5, { op: 'get' }, { value }));
  }
  const started = performance.now();
  t.ok(isLinearizable(S3_REGISTER, history));
  t.comment(`${history.length} operations in ${Math.round(performance.now() - started)} ms`);
});
