import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Where the tests run from. `npm test` compiles src/, test/ and bench/ into build/ (tsconfig.tree.json)
 * and runs the compiled files with plain Node, so neither a test process nor a server it starts pays
 * for a TypeScript loader (about 1.3 s of CPU each). A test file run on its own from test/ runs under
 * tsx, and the servers it starts do too.
 */
const COMPILED = import.meta.url.endsWith('.js');

/** The checkout: package.json, deploy/, native/, test-artifacts/ and the tests' own scripts and data. */
export const REPO_ROOT = fileURLToPath(new URL(COMPILED ? '../../..' : '../..', import.meta.url));

/** The root of the code being run: the checkout, or build/ when compiled. */
const CODE_ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * Node's arguments to run a module of this tree, named by its path from the root without extension
 * ('src/bin/tessera'): the compiled file when the tests are compiled, the TypeScript under tsx otherwise.
 */
export function moduleArgs(path: string, ...args: readonly string[]): string[] {
  return COMPILED ? [join(CODE_ROOT, `${path}.js`), ...args] : ['--import', 'tsx', join(CODE_ROOT, `${path}.ts`), ...args];
}

/** Node's arguments to run the tessera command with `args`. */
export function tesseraArgs(...args: readonly string[]): string[] {
  return moduleArgs('src/bin/tessera', ...args);
}

/** A file of the checkout by its path from the root ('test/clients/boto3_roundtrip.py'). */
export function repoFile(path: string): string {
  return join(REPO_ROOT, path);
}

/** Every .ts file below `dir`, at any depth: what the source-scanning tests (layering, rules once) read. */
export async function typeScriptFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await typeScriptFiles(path)));
    else if (entry.name.endsWith('.ts')) out.push(path);
  }
  return out;
}

/**
 * Partition bits of the rings test clusters derive (2^6 = 64 partitions). Six nodes need no more, and
 * every node's first audit pass compares a digest per partition it leads with each member: on the
 * default 1,024 partitions that pass costs a started cluster about 3 s of CPU, which a suite of a few
 * hundred cluster starts pays on a 2-core machine. Tests of partition counts build their own rings.
 */
export const TEST_PARTITION_BITS = 6;

/**
 * The environment a test hands `runDev` in process: the test rings' partitions, and the console on any
 * free port (the default, the port after S3's, may be another test's), as `tessera dev` children get them.
 */
export const TEST_DEV_ENV: Readonly<Record<string, string>> = { TESSERA_PARTITION_BITS: String(TEST_PARTITION_BITS), TESSERA_CONSOLE_LISTEN: '127.0.0.1:0' };
