import t from 'tap';
import { BUILT_KERNEL_SHAPES, renderKernelModuleSource } from '../../src/erasure/kernels/wasm/kernel-source.js';
import { KERNEL_MODULE_RELAXED_SIMD, KERNEL_MODULE_SIMD } from '../../src/erasure/kernels/wasm/kernel-module.generated.js';
import { emitKernelModule } from '../../src/erasure/kernels/wasm/kernel-module.js';
import { builtKernelModule } from '../../src/erasure/kernels/wasm/kernel-modules.js';
import { uleb, sleb } from '../../src/common/wasm-assembler.js';

t.test('the committed module is what the generator emits today (run npm run build:wasm)', (t) => {
  const source = renderKernelModuleSource();
  t.ok(source.includes(KERNEL_MODULE_SIMD.base64.slice(0, 96)));
  t.ok(source.includes(KERNEL_MODULE_RELAXED_SIMD.base64.slice(0, 96)));
  t.same([...builtKernelModule(false).bytes], [...emitKernelModule(BUILT_KERNEL_SHAPES.standard)], 'standard SIMD module');
  t.same([...builtKernelModule(true).bytes], [...emitKernelModule(BUILT_KERNEL_SHAPES.relaxed)], 'relaxed SIMD module');
  t.same(KERNEL_MODULE_SIMD.vectorsPerStep, BUILT_KERNEL_SHAPES.standard.vectorsPerStep);
  t.same(KERNEL_MODULE_RELAXED_SIMD.vectorsPerStep, BUILT_KERNEL_SHAPES.relaxed.vectorsPerStep);
  t.same(KERNEL_MODULE_SIMD.pairVectorsPerStep, BUILT_KERNEL_SHAPES.standard.pairVectorsPerStep);
  t.same(KERNEL_MODULE_RELAXED_SIMD.pairVectorsPerStep, BUILT_KERNEL_SHAPES.relaxed.pairVectorsPerStep);
  t.equal(KERNEL_MODULE_SIMD.quads, BUILT_KERNEL_SHAPES.standard.quads);
  t.equal(KERNEL_MODULE_RELAXED_SIMD.quads, BUILT_KERNEL_SHAPES.relaxed.quads);
  t.end();
});

t.test('LEB128 encoders', (t) => {
  t.same(uleb(0), [0]);
  t.same(uleb(127), [127]);
  t.same(uleb(128), [0x80, 0x01]);
  t.same(uleb(624485), [0xe5, 0x8e, 0x26]);
  t.same(sleb(-1), [0x7f]);
  t.same(sleb(63), [63]);
  t.same(sleb(64), [0xc0, 0x00]);
  t.same(sleb(-123456), [0xc0, 0xbb, 0x78]);
  t.end();
});
