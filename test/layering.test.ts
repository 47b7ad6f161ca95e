import { readFile, readdir } from 'node:fs/promises';
import { join, relative, resolve, dirname } from 'node:path';
import { t } from 'tap';

/**
 * The layering rules of STYLE.md, checked on every import in src/: which top-level folder may
 * import which, that other folders are entered only through their index.ts, and that the pure
 * libraries do no I/O.
 */
const ALLOWED: Record<string, readonly string[]> = {
  common: [],
  rpc: ['common'],
  erasure: ['common'],
  placement: ['common'],
  'storage-node': ['rpc', 'erasure', 'placement', 'common'],
  gateway: ['rpc', 'placement', 'erasure', 'common'],
  bin: ['gateway', 'storage-node', 'placement', 'erasure', 'rpc', 'common'],
};
const PURE = new Set(['erasure', 'placement']);
const IO_MODULES = /^(node:)?(fs|fs\/promises|net|http|https|dgram|child_process|worker_threads|timers|timers\/promises)$/;

const srcRoot = resolve('src');

async function sourceFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await sourceFiles(path)));
    else if (entry.name.endsWith('.ts')) out.push(path);
  }
  return out;
}

function importsOf(text: string): string[] {
  const specifiers: string[] = [];
  const pattern = /(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|import\s+['"]([^'"]+)['"]/g;
  for (const match of text.matchAll(pattern)) specifiers.push((match[1] ?? match[2] ?? match[3]) as string);
  return specifiers;
}

const files = await sourceFiles(srcRoot);
const problems: string[] = [];
const graph = new Map<string, Set<string>>();

for (const file of files) {
  const layer = relative(srcRoot, file).split('/')[0] as string;
  const text = await readFile(file, 'utf8');
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

t.test('every import in src/ follows the layering rules', async (t) => {
  t.ok(files.length > 10, 'the source tree was found');
  t.same(problems, []);
});

t.test('the layer graph has no cycles', async (t) => {
  const visiting = new Set<string>();
  const done = new Set<string>();
  const cycles: string[] = [];
  const visit = (layer: string, path: string[]): void => {
    if (done.has(layer)) return;
    if (visiting.has(layer)) {
      cycles.push([...path, layer].join(' -> '));
      return;
    }
    visiting.add(layer);
    for (const next of graph.get(layer) ?? []) visit(next, [...path, layer]);
    visiting.delete(layer);
    done.add(layer);
  };
  for (const layer of graph.keys()) visit(layer, []);
  t.same(cycles, []);
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
});
