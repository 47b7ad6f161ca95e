import { readFile } from 'node:fs/promises';
import { basename, join, relative, resolve, dirname } from 'node:path';
import { t } from 'tap';
import { typeScriptFiles } from './helpers/tree.js';

/**
 * The layering rules of STYLE.md, checked on every import in src/: which top-level folder may
 * import which, that other folders are entered only through their index.ts, that the pure libraries
 * do no I/O, and that no files import each other in a cycle. Inside src/gateway/ the same rules hold
 * between its folders (README, Architecture).
 */
const ALLOWED: Record<string, readonly string[]> = {
  common: [],
  rpc: ['common'],
  erasure: ['common'],
  placement: ['common'],
  // Bucket event notifications: targets, S3's event message, publishers (the nodes deliver, the gateway configures).
  events: ['rpc', 'common'],
  'storage-node': ['rpc', 'erasure', 'placement', 'events', 'common'],
  gateway: ['rpc', 'placement', 'erasure', 'events', 'common'],
  bin: ['gateway', 'storage-node', 'placement', 'erasure', 'events', 'rpc', 'common'],
};
const PURE = new Set(['erasure', 'placement']);

/**
 * Inside src/gateway/: which folder (or file at its root) may import which. A request's walk runs one
 * way: http/ calls the operation table it is given, the table names a handler, handlers use the data
 * path, and the data path calls the nodes. s3/ (S3's pure rules) and the data path never see HTTP.
 */
const GATEWAY_ALLOWED: Record<string, readonly string[]> = {
  s3: [],
  cluster: [],
  digest: ['s3'],
  auth: ['s3', 'digest'],
  // Server-side encryption: the package format, sealed keys, SSE headers; the data path streams through it.
  encryption: ['s3'],
  // Who may do what: principals, ACLs, the action table; pure like s3/.
  access: ['s3'],
  'data-path': ['s3', 'digest', 'cluster', 'encryption', 'access'],
  http: ['s3', 'auth', 'data-path', 'access', 'access-log'],
  // Server access logs: the log line, group commit into log objects written through the data path.
  'access-log': ['s3', 'data-path'],
  handlers: ['http', 'data-path', 's3', 'encryption', 'access'],
  // Bucket replication: reading a version of this cluster (data path) and writing it to another (SigV4).
  replication: ['s3', 'auth', 'data-path', 'cluster', 'encryption'],
  // The one operation table: the only importer of handlers/.
  'operations.ts': ['handlers', 'http', 's3', 'access'],
  // Wiring: builds the services and the app, and hands the app the operation table.
  'gateway.ts': ['operations.ts', 'http', 'data-path', 'cluster', 'digest', 'encryption', 'replication', 'access-log'],
  // The gateway's public face, and the only importer of gateway.ts.
  'index.ts': ['gateway.ts', 'http', 's3', 'access', 'replication'],
};
/** The parts of the gateway that may import Fastify. */
const FASTIFY_USERS = new Set(['http', 'gateway.ts']);
/** Gateway parts that do no I/O of their own. */
const GATEWAY_PURE = new Set(['s3', 'encryption', 'access']);
const IO_MODULES = /^(node:)?(fs|fs\/promises|net|http|https|dgram|child_process|worker_threads|timers|timers\/promises)$/;

const srcRoot = resolve('src');
const gatewayRoot = join(srcRoot, 'gateway');


function importsOf(text: string): string[] {
  const specifiers: string[] = [];
  const pattern = /(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|import\s+['"]([^'"]+)['"]/g;
  for (const match of text.matchAll(pattern)) specifiers.push((match[1] ?? match[2] ?? match[3]) as string);
  return specifiers;
}

/** The specifiers of importsOf that load a module when this one loads: `import type` and `export type` are erased. */
function runtimeImportsOf(text: string): string[] {
  return importsOf(text.replace(/^(?:import|export)\s+type\s[^;]*;/gm, ''));
}

/**
 * Import cycles between files left standing, each named as `a -> b -> a` from its first file by name. A cycle
 * among ES modules makes one of them run its body before the other has finished its own, so a value read
 * at load time is undefined; these read each other's exports only when called.
 */
const ALLOWED_FILE_CYCLES: readonly string[] = [
  // The admin CLI dispatches `admin user` to user-cli.ts, which finds its nodes with the admin CLI's
  // resolveTarget. Breaking it moves resolveTarget and AdminTarget into a file of their own.
  'bin/admin-cli.ts -> bin/user-cli.ts -> bin/admin-cli.ts',
];

const files = await typeScriptFiles(srcRoot);
const problems: string[] = [];
const graph = new Map<string, Set<string>>();
const fileGraph = new Map<string, Set<string>>();

for (const file of files) {
  const layer = relative(srcRoot, file).split('/')[0] as string;
  const text = await readFile(file, 'utf8');
  const runtime = runtimeImportsOf(text).filter((specifier) => specifier.startsWith('.'));
  fileGraph.set(relative(srcRoot, file), new Set(runtime.map((specifier) => relative(srcRoot, resolve(dirname(file), specifier).replace(/\.js$/, '.ts')))));
  for (const specifier of importsOf(text)) {
    if (!specifier.startsWith('.')) {
      if (PURE.has(layer) && IO_MODULES.test(specifier)) problems.push(`${relative(srcRoot, file)} imports ${specifier}: ${layer} does no I/O`);
      continue;
    }
    const target = resolve(dirname(file), specifier);
    const targetLayer = relative(srcRoot, target).split('/')[0] as string;
    if (targetLayer === layer) continue;
    if (!(ALLOWED[layer] ?? []).includes(targetLayer)) problems.push(`${relative(srcRoot, file)} imports ${targetLayer}: ${layer} may not`);
    if (relative(join(srcRoot, targetLayer), target) !== 'index.js') {
      problems.push(`${relative(srcRoot, file)} imports ${specifier}: other layers are entered through index.ts`);
    }
    graph.set(layer, (graph.get(layer) ?? new Set()).add(targetLayer));
  }
}

/** The folder (or root file) of src/gateway/ a path lies in; undefined outside the gateway. */
function gatewayPart(path: string): string | undefined {
  const inside = relative(gatewayRoot, path);
  return inside.startsWith('..') ? undefined : (inside.split('/')[0] as string);
}

const gatewayProblems: string[] = [];
const gatewayGraph = new Map<string, Set<string>>();
// The handlers/ files the folder's index.ts exports from: one per S3 resource.
const resourceFiles = new Set(
  importsOf(await readFile(join(gatewayRoot, 'handlers', 'index.ts'), 'utf8')).map((s) => resolve(gatewayRoot, 'handlers', s).replace(/\.js$/, '.ts')),
);

for (const file of files) {
  const part = gatewayPart(file);
  if (part === undefined) continue;
  const name = relative(srcRoot, file);
  const allowed = GATEWAY_ALLOWED[part];
  if (allowed === undefined) {
    gatewayProblems.push(`${name}: gateway/${part} has no row in GATEWAY_ALLOWED`);
    continue;
  }
  for (const specifier of importsOf(await readFile(file, 'utf8'))) {
    if (!specifier.startsWith('.')) {
      if (specifier === 'fastify' && !FASTIFY_USERS.has(part)) gatewayProblems.push(`${name} imports fastify: only http/ and gateway.ts may`);
      if (GATEWAY_PURE.has(part) && IO_MODULES.test(specifier)) gatewayProblems.push(`${name} imports ${specifier}: gateway/${part} does no I/O`);
      continue;
    }
    const target = resolve(dirname(file), specifier).replace(/\.js$/, '.ts');
    const targetPart = gatewayPart(target);
    if (targetPart === undefined) continue;
    if (targetPart === part) {
      if (part === 'handlers' && resourceFiles.has(target) && basename(file) !== 'index.ts') {
        gatewayProblems.push(`${name} imports ${specifier}: a handler file uses no other resource's file; give what they share a file of its own`);
      }
      continue;
    }
    if (!allowed.includes(targetPart)) gatewayProblems.push(`${name} imports gateway/${targetPart}: gateway/${part} may not`);
    if (!targetPart.endsWith('.ts') && basename(target) !== 'index.ts') {
      gatewayProblems.push(`${name} imports ${specifier}: gateway folders are entered through their index.ts`);
    }
    gatewayGraph.set(part, (gatewayGraph.get(part) ?? new Set()).add(targetPart));
  }
}

/** Every cycle found walking `graph` from each of its nodes, as `a -> b -> a`. */
function cyclesOf(graph: ReadonlyMap<string, ReadonlySet<string>>): string[] {
  const visiting = new Set<string>();
  const done = new Set<string>();
  const cycles: string[] = [];
  const visit = (node: string, path: string[]): void => {
    if (done.has(node)) return;
    if (visiting.has(node)) {
      // From the cycle's first file by name, so a cycle reads the same whichever file the walk began at.
      const cycle = path.slice(path.indexOf(node));
      const first = cycle.indexOf([...cycle].sort()[0] as string);
      cycles.push([...cycle.slice(first), ...cycle.slice(0, first), cycle[first]].join(' -> '));
      return;
    }
    visiting.add(node);
    for (const next of graph.get(node) ?? []) visit(next, [...path, node]);
    visiting.delete(node);
    done.add(node);
  };
  for (const node of graph.keys()) visit(node, []);
  return cycles;
}

t.test('every import in src/ follows the layering rules', async (t) => {
  t.ok(files.length > 10, 'the source tree was found');
  t.same(problems, []);
});

t.test('the layer graph has no cycles', async (t) => {
  t.same(cyclesOf(graph), []);
});

t.test('no import cycle between files of src/ but the allowed ones', async (t) => {
  t.equal(fileGraph.size, files.length, 'every file was read');
  t.same(
    cyclesOf(fileGraph).filter((cycle) => !ALLOWED_FILE_CYCLES.includes(cycle)),
    [],
    'break the cycle: move what both files need into a third, or import only its types',
  );
  t.same(
    ALLOWED_FILE_CYCLES.filter((cycle) => !cyclesOf(fileGraph).includes(cycle)),
    [],
    'an allowed cycle that is gone leaves the list',
  );
});

t.test("every import in src/gateway/ follows the gateway's own layering", async (t) => {
  t.ok(resourceFiles.size > 5, 'the handler files were found');
  t.same(gatewayProblems, []);
  t.same(cyclesOf(gatewayGraph), [], "the gateway's folders import each other one way only");
});

/**
 * A node's metadata rows are the shard store's own: code beside it (routes, workers, the resolver)
 * uses the store's calls and the row families it lends (metadata/row-families.ts), never `.metadata`.
 */
const METADATA_OWNERS = ['storage-node/shard-store/', 'storage-node/metadata/', 'storage-node/shard-store.ts', 'storage-node/metadata-store.ts'];
const METADATA_REACH = /\.metadata\b/;

/** The lines of a storage-node file outside the store that reach into its metadata, named as file:line. */
function metadataReaches(name: string, text: string): string[] {
  if (!name.startsWith('storage-node/') || METADATA_OWNERS.some((owner) => name.startsWith(owner))) return [];
  return text.split('\n').flatMap((line, i) => (METADATA_REACH.test(line) ? [`${name}:${i + 1}: ${line.trim()}`] : []));
}

t.test("nothing outside the shard store reaches into its metadata", async (t) => {
  const reaches: string[] = [];
  for (const file of files) reaches.push(...metadataReaches(relative(srcRoot, file), await readFile(file, 'utf8')));
  t.same(reaches, [], "use the store's calls or a row family it lends (keyRows, versionRows, ...)");
});

t.test('every error class in src/ descends from TesseraError (STYLE.md, Errors), so every thrown error carries a code', async (t) => {
  const bare: string[] = [];
  for (const file of files) {
    for (const match of (await readFile(file, 'utf8')).matchAll(/class (\w+)(?:<[^>]*>)? extends Error\b/g)) bare.push(`${relative(srcRoot, file)}: ${match[1]}`);
  }
  t.same(bare, ['common/errors.ts: TesseraError'], 'only the base extends Error itself');
});

t.test('the checker itself catches a forbidden import', async (t) => {
  t.same(importsOf("import { Gateway } from '../gateway/index.js';"), ['../gateway/index.js']);
  t.notOk((ALLOWED['storage-node'] ?? []).includes('gateway'), 'storage-node may not import gateway');
  t.ok(IO_MODULES.test('node:fs/promises'));
  t.notOk(GATEWAY_ALLOWED['data-path']?.includes('http'), 'the data path may not import http/');
  t.notOk(GATEWAY_ALLOWED['s3']?.includes('handlers'), 's3/ may not import handlers/');
  t.notOk(GATEWAY_ALLOWED['http']?.includes('handlers'), 'http/ may not import handlers/');
  t.same(
    Object.keys(GATEWAY_ALLOWED).filter((part) => GATEWAY_ALLOWED[part]?.includes('handlers')),
    ['operations.ts'],
    'only the operation table imports handlers/',
  );
  t.same(
    Object.keys(GATEWAY_ALLOWED).filter((part) => GATEWAY_ALLOWED[part]?.includes('gateway.ts')),
    ['index.ts'],
    'only index.ts imports gateway.ts',
  );
  t.equal(metadataReaches('storage-node/workers/x-worker.ts', 'const row = await this.options.store.metadata.getObject(b, k);').length, 1);
  t.equal(metadataReaches('storage-node/prepared-resolver.ts', 'const cursors = store.metadata;').length, 1);
  t.same(metadataReaches('storage-node/shard-store/store-core.ts', 'await this.metadata.putPrepared(ref, prepared);'), [], 'the store reaches its own rows');
  t.same(metadataReaches('storage-node/node-server/node-health.ts', 'const status = store.metadataStatus;'), [], 'a named call of the store is no reach');
  t.same(cyclesOf(new Map([['a', new Set(['b'])], ['b', new Set(['a'])]])), ['a -> b -> a']);
  t.same(cyclesOf(new Map([['x', new Set(['c'])], ['c', new Set(['b'])], ['b', new Set(['c'])]])), ['b -> c -> b'], 'a cycle is named without the path that led to it');
  t.same(runtimeImportsOf("import type { A } from './a.js';\nimport { type B } from './b.js';\nexport type {\n  C,\n} from './c.js';\nexport { d } from './d.js';"), [
    './b.js',
    './d.js',
  ]);
});
