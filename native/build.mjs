#!/usr/bin/env node
/**
 * Builds the AES-256-GCM addon (package-gcm.c) into native/build/package-gcm.node with a plain C
 * compiler: no node-gyp, nothing downloaded. Needs Node's headers (include/node, with openssl/) and cc.
 * Where either is missing, or the compiler fails, it says why and exits 0: the gateway then runs the
 * package format on node:crypto. Quiet when the binary is newer than its sources.
 *
 *   node native/build.mjs            # what `npm run build:native` runs
 *   node native/build.mjs --force    # rebuild even when up to date
 *
 * Headers, first found: $TESSERA_NODE_INCLUDE, <node prefix>/include/node (official tarballs, nvm, fnm),
 * /usr/include/node and /usr/local/include/node (distribution packages). Compiler: $CC, else cc, gcc, clang.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const source = join(here, 'package-gcm.c');
const output = join(here, 'build', 'package-gcm.node');
const force = process.argv.includes('--force');

/** Says why there is no addon and leaves with 0: the store runs on node:crypto without it. */
function skip(reason) {
  console.error(`native AES-GCM addon not built: ${reason}; AES-GCM runs on node:crypto`);
  process.exit(0);
}

function headerDir() {
  const candidates = [
    process.env.TESSERA_NODE_INCLUDE,
    resolve(process.execPath, '../../include/node'),
    '/usr/include/node',
    '/usr/local/include/node',
  ].filter((dir) => dir !== undefined && dir !== '');
  return candidates.find((dir) => existsSync(join(dir, 'node_api.h')) && existsSync(join(dir, 'openssl', 'evp.h')));
}

function compiler() {
  const candidates = process.env.CC ? [process.env.CC] : ['cc', 'gcc', 'clang'];
  return candidates.find((cc) => spawnSync(cc, ['--version'], { stdio: 'ignore' }).status === 0);
}

if (process.platform === 'win32') skip('Windows builds need MSVC and node.lib, which this script does not drive');
if (!force && existsSync(output)) {
  const built = statSync(output).mtimeMs;
  if (built > statSync(source).mtimeMs && built > statSync(fileURLToPath(import.meta.url)).mtimeMs) process.exit(0);
}
const include = headerDir();
if (include === undefined) skip(`no Node headers with openssl/ (looked in ${resolve(process.execPath, '../../include/node')}, /usr/include/node, /usr/local/include/node; set TESSERA_NODE_INCLUDE)`);
const cc = compiler();
if (cc === undefined) skip('no C compiler (cc, gcc or clang; set CC), e.g. apt-get install gcc libc6-dev');

mkdirSync(dirname(output), { recursive: true });
const temporary = `${output}.${process.pid}.tmp`;
// OpenSSL's symbols are resolved from the node binary at load time: undefined here, never -lcrypto.
const unresolved = process.platform === 'darwin' ? ['-undefined', 'dynamic_lookup'] : [];
const args = ['-O2', '-shared', '-fPIC', '-fvisibility=hidden', '-Wall', '-Wextra', '-std=c11', `-I${include}`, ...unresolved, '-o', temporary, source];
const result = spawnSync(cc, args, { encoding: 'utf8' });
if (result.status !== 0) {
  rmSync(temporary, { force: true });
  process.stderr.write(result.stderr ?? '');
  skip(`${cc} failed (${result.error?.message ?? `exit ${result.status}`})`);
}
// Renamed into place, so a process loading the addon meanwhile never sees half a file.
renameSync(temporary, output);
console.error(`native AES-GCM addon built: ${output} (${cc}, headers ${include})`);
