import t from 'tap';
import { renderKernelModuleSource } from '../../src/erasure/kernels/wasm/kernel-source.js';
import {
  GENERATED_KERNEL_SHAPE,
  KERNEL_MODULE_RELAXED_SIMD_BASE64,
  KERNEL_MODULE_SIMD_BASE64,
} from '../../src/erasure/kernels/wasm/kernel-module.generated.js';
import { emitKernelModule } from '../../src/erasure/kernels/wasm/kernel-module.js';
import { builtKernelModule } from '../../src/erasure/kernels/wasm/kernel-modules.js';
import { uleb, sleb } from '../../src/erasure/kernels/wasm/assembler.js';

t.test('the committed module is what the generator emits today (run npm run build:wasm)', (t) => {
  const source = renderKernelModuleSource();
  t.ok(source.includes(KERNEL_MODULE_SIMD_BASE64.slice(0, 100)));
  const relaxed = { ...GENERATED_KERNEL_SHAPE, relaxed: true };
  const standard = { ...GENERATED_KERNEL_SHAPE, relaxed: false };
  t.same([...builtKernelModule(false).bytes], [...emitKernelModule(standard)], 'standard SIMD module');
  t.same([...builtKernelModule(true).bytes], [...emitKernelModule(relaxed)], 'relaxed SIMD module');
  t.ok(KERNEL_MODULE_RELAXED_SIMD_BASE64.length > 0);
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
