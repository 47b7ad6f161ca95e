import { setFlagsFromString } from 'node:v8';
import t from 'tap';
import { createCodec, detectKernelSupport } from '../../src/erasure/index.js';
import { randomStripe, sameBytes } from './support/kernels.js';

// Node 20 has relaxed SIMD behind a flag; turning it on in this test process covers the relaxed module there too.
// On Node 22+ it is already on and the other test files cover it through kernelVariants().
if (!detectKernelSupport().relaxedSimd) {
  try {
    setFlagsFromString('--experimental-wasm-relaxed-simd');
  } catch {
    // Not a V8 that knows the flag: the test below is skipped.
  }
}

const support = detectKernelSupport();

t.test('relaxed-SIMD kernel agrees with portable', { skip: support.relaxedSimd ? false : 'no relaxed SIMD' }, (t) => {
  for (const [k, m, length] of [[4, 2, 77], [8, 4, 4096 + 5], [10, 4, 300_001], [3, 7, 33], [20, 10, 1000]] as const) {
    const relaxed = createCodec({ dataShards: k, parityShards: m, kernel: 'wasm-simd', relaxedSimd: true });
    t.equal(relaxed.relaxedSimd, true);
    const portable = createCodec({ dataShards: k, parityShards: m, kernel: 'portable' });
    const a = randomStripe(k, m, length, k + m);
    const b = randomStripe(k, m, length, k + m);
    relaxed.encode(a);
    portable.encode(b);
    t.ok(a.every((s, i) => sameBytes(s, b[i])), `${k}+${m} encode`);
    const damaged = a.map((s, i) => (i % 3 === 0 && i / 3 < m ? null : s));
    relaxed.reconstruct(damaged);
    t.ok(damaged.every((s, i) => sameBytes(s, b[i])), `${k}+${m} reconstruct`);
  }
  t.end();
});

t.test('relaxedSimd: false forces the standard swizzle', { skip: support.simd ? false : 'no SIMD' }, (t) => {
  t.equal(createCodec({ dataShards: 2, parityShards: 1, kernel: 'wasm-simd', relaxedSimd: false }).relaxedSimd, false);
  t.end();
});
