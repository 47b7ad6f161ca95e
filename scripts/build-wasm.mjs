#!/usr/bin/env node
/**
 * `npm run build:wasm`: regenerates src/erasure/kernels/wasm/kernel-module.generated.ts from its generator
 * (print-kernel-module.ts and what it imports). Skipped when the generated file is newer than every input, so
 * `npm start` does not pay for a tsx start on each run. The file is committed and the generator deterministic,
 * so a regeneration after a checkout that left the inputs newer writes the same bytes; the file is replaced
 * only when its text changed, and never left half-written when the generator fails.
 *
 *   node scripts/build-wasm.mjs           # what `npm run build` runs
 *   node scripts/build-wasm.mjs --force   # regenerate even when up to date
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, renameSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const dir = join(root, 'src', 'erasure', 'kernels', 'wasm');
const output = join(dir, 'kernel-module.generated.ts');
const inputs = ['kernel-module.ts', 'kernel-source.ts', 'print-kernel-module.ts'].map((name) => join(dir, name));
inputs.push(join(root, 'src', 'common', 'wasm-assembler.ts'));
inputs.push(fileURLToPath(import.meta.url));

const mtimeMs = (path) => statSync(path, { throwIfNoEntry: false })?.mtimeMs;
const outputMs = mtimeMs(output);
const fresh = outputMs !== undefined && inputs.every((input) => (mtimeMs(input) ?? Infinity) <= outputMs);
if (fresh && !process.argv.includes('--force')) process.exit(0);

const tsx = join(dirname(createRequire(import.meta.url).resolve('tsx/package.json')), 'dist', 'cli.mjs');
const generated = spawnSync(process.execPath, [tsx, join(dir, 'print-kernel-module.ts')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 * 1024 * 1024 });
if (generated.status !== 0) process.exit(generated.status ?? 1);
const previous = outputMs === undefined ? undefined : readFileSync(output, 'utf8');
if (generated.stdout !== previous) {
  writeFileSync(`${output}.tmp`, generated.stdout);
  renameSync(`${output}.tmp`, output);
} else {
  // Same text: mark it up to date so the next build skips the generator.
  const now = new Date();
  utimesSync(output, now, now);
}
