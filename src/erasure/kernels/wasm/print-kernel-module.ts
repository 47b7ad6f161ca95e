/**
 * Build step behind `npm run build:wasm`: prints kernel-module.generated.ts (the kernel modules as base64) to stdout,
 * which the script redirects into place. Deterministic: same generator, same bytes; a test checks the committed file.
 */
import { renderKernelModuleSource } from './kernel-source.js';

console.log(renderKernelModuleSource());
