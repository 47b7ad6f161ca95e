import t from 'tap';
import { FIELD_POLYNOMIAL, gfDiv, gfMul, gfPow, MUL_TABLE } from '../../src/erasure/galois.js';
import { invert, multiply, selectRows, systematicEncodeMatrix, type GfMatrix } from '../../src/erasure/matrix.js';
import { naiveEncodeMatrix, naiveMul } from './support/reference-rs.js';

t.test('field tables agree with shift-and-add multiplication mod 0x11d', (t) => {
  t.equal(FIELD_POLYNOMIAL, 0x11d);
  let mismatches = 0;
  for (let a = 0; a < 256; a++) {
    for (let b = 0; b < 256; b++) {
      const expected = naiveMul(a, b);
      if (gfMul(a, b) !== expected || MUL_TABLE[a * 256 + b] !== expected) mismatches++;
    }
  }
  t.equal(mismatches, 0);
  t.end();
});

t.test('division and powers are consistent with multiplication', (t) => {
  for (let a = 0; a < 256; a++) {
    for (let b = 1; b < 256; b++) {
      if (gfMul(gfDiv(a, b), b) !== a) t.fail(`${a} / ${b}`);
    }
    let power = 1;
    for (let n = 0; n < 10; n++) {
      if (gfPow(a, n) !== power) t.fail(`${a}^${n}`);
      power = gfMul(power, a);
    }
  }
  t.throws(() => gfDiv(1, 0), RangeError);
  t.end();
});

function identity(n: number): GfMatrix {
  const m = { rows: n, cols: n, data: new Uint8Array(n * n) };
  for (let i = 0; i < n; i++) m.data[i * n + i] = 1;
  return m;
}

t.test('the systematic matrix matches the naive construction and is the identity on top', (t) => {
  for (const [k, m] of [[1, 1], [4, 2], [8, 4], [10, 4], [17, 3]] as const) {
    const matrix = systematicEncodeMatrix(k, k + m);
    t.same([...matrix.data], naiveEncodeMatrix(k, m).flat(), `${k}+${m}`);
    t.same([...selectRows(matrix, Array.from({ length: k }, (_, i) => i)).data], [...identity(k).data]);
  }
  t.end();
});

t.test('every k rows of the 8+4 matrix invert (MDS)', (t) => {
  const k = 8;
  const matrix = systematicEncodeMatrix(k, 12);
  let checked = 0;
  const pick = (start: number, chosen: number[]): void => {
    if (chosen.length === k) {
      const sub = selectRows(matrix, chosen);
      t.same([...multiply(sub, invert(sub)).data], [...identity(k).data], chosen.join(','));
      checked++;
      return;
    }
    for (let i = start; i < 12; i++) pick(i + 1, [...chosen, i]);
  };
  pick(0, []);
  t.equal(checked, 495);
  t.end();
});

t.test('a singular matrix is reported', (t) => {
  t.throws(() => invert({ rows: 2, cols: 2, data: Uint8Array.from([1, 2, 2, 4]) }), RangeError);
  t.end();
});
