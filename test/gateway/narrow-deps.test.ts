import { readFile } from 'node:fs/promises';
import { relative, resolve } from 'node:path';
import { t } from 'tap';
import { typeScriptFiles } from '../helpers/tree.js';

/**
 * The gateway hands every request all of its dependencies (GatewayDeps), but a function names the few it
 * uses: its path's interface (data-path/path-deps.ts, http/auth-deps.ts) as RequestContext<Deps>. These
 * checks keep the bag from coming back: only the code that assembles and dispatches names GatewayDeps,
 * and no function takes a RequestContext without saying which dependencies it uses.
 */
const gatewayRoot = resolve('src/gateway');
/** The files that may name GatewayDeps: its declaration, the app that hands it to requests, the wiring that builds it. */
const ASSEMBLERS = new Set(['http/request-context.ts', 'http/index.ts', 'http/s3-app.ts', 'gateway.ts']);
/** A parameter or return typed RequestContext with no type argument: the whole bag by default. */
const BARE_CONTEXT = /:\s*(?:Promise<)?RequestContext\b(?!<)/;

const files = await typeScriptFiles(gatewayRoot);
const texts = await Promise.all(files.map(async (file) => ({ name: relative(gatewayRoot, file), text: await readFile(file, 'utf8') })));

/** Lines of code (not comments) in `text` matching `pattern`, as name:line. */
function linesMatching(pattern: RegExp, name: string, text: string): string[] {
  return text.split('\n').flatMap((line, i) => (pattern.test(line) && !/^\s*(\/\/|\/?\*)/.test(line) ? [`${name}:${i + 1}: ${line.trim()}`] : []));
}

t.test('only the gateway wiring and the app name GatewayDeps', async (t) => {
  t.ok(texts.some(({ name }) => name === 'data-path/path-deps.ts'), 'the paths name their dependencies');
  t.same(
    texts.filter(({ name }) => !ASSEMBLERS.has(name)).flatMap(({ name, text }) => linesMatching(/\bGatewayDeps\b/, name, text)),
    [],
    'take the path interface the function uses (data-path/path-deps.ts, http/auth-deps.ts)',
  );
});

t.test('every function names the dependencies it takes from a RequestContext', async (t) => {
  const bare = texts.flatMap(({ name, text }) => linesMatching(BARE_CONTEXT, name, text)).filter((line) => !line.includes('export type Handler ='));
  t.same(bare, [], 'write RequestContext<Deps> (RequestContext<unknown> when it uses none)');
});

t.test('the checks catch what they look for', async (t) => {
  t.ok(BARE_CONTEXT.test('export async function getObject(ctx: RequestContext): Promise<void> {'));
  t.ok(BARE_CONTEXT.test('): Promise<RequestContext> {'));
  t.notOk(BARE_CONTEXT.test('export async function getObject(ctx: RequestContext<ReadPathDeps>): Promise<void> {'));
});
