#!/usr/bin/env node
/**
 * `npm run build:tree`: type-checks src/, test/ and bench/ and compiles them into build/
 * (tsconfig.tree.json), from where `npm test` runs them with plain Node. build/ is made anew each time,
 * so a test file that was removed or renamed leaves no compiled copy behind to run. The compiled src/
 * finds the native addon three levels up, as src/ and dist/ do: build/native is the checkout's native/.
 */
import { spawnSync } from 'node:child_process';
import { rmSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const build = join(root, 'build');
rmSync(build, { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const compiled = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.tree.json')], { stdio: 'inherit' });
if (compiled.status !== 0) process.exit(compiled.status ?? 1);
symlinkSync(join('..', 'native'), join(build, 'native'));
// The console's files, which tsc does not copy: the compiled gateway reads them beside itself.
const copied = spawnSync(process.execPath, [join(root, 'scripts/copy-console-assets.mjs'), join(build, 'src')], { stdio: 'inherit' });
if (copied.status !== 0) process.exit(copied.status ?? 1);
