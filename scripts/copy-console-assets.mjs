#!/usr/bin/env node
/**
 * Copies the web console's files (src/gateway/http/console/) beside the compiled gateway, which reads
 * them from there: `node scripts/copy-console-assets.mjs dist` after `tsc` (npm run build), and
 * test/build-tree.mjs for build/. tsc copies only what it compiles.
 */
import { cpSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const out = process.argv[2];
if (out === undefined) {
  console.error('usage: copy-console-assets.mjs OUT_DIR (the folder src/ compiles to)');
  process.exit(2);
}
cpSync(join(root, 'src/gateway/http/console'), join(resolve(root, out), 'gateway/http/console'), { recursive: true });
