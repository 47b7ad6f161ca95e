import { readFile } from 'node:fs/promises';
import { relative, resolve } from 'node:path';
import { t } from 'tap';
import { typeScriptFiles } from './helpers/tree.js';
import ts from 'typescript';

/**
 * Rules the code must write once, checked on every file in src/: a copy that drifts from the owner
 * is a bug nobody sees until two nodes disagree. The checks go by names and shapes of code, as the
 * layering test goes by import specifiers; a rule written again under other names slips past them.
 */
const srcRoot = resolve('src');

/** The one file that compares version ids (and tag revisions, ids of the same clock). */
const VERSION_ORDER_OWNER = 'common/hybrid-clock.ts';
/** The one file that counts a majority. */
const MAJORITY_OWNER = 'rpc/quorum-rules.ts';
/** The one file that frames bucket/key into the bytes placement hashes. */
const PARTITION_KEY_OWNER = 'placement/partition-key.ts';
/** The one file that turns a partition back into the placement hashes it holds. */
const PARTITION_RANGE_OWNER = 'placement/placement-hash.ts';

const VERSION_NAME = /versionid|tagsrevision/i;
const RELATIONAL = new Set([ts.SyntaxKind.LessThanToken, ts.SyntaxKind.GreaterThanToken, ts.SyntaxKind.LessThanEqualsToken, ts.SyntaxKind.GreaterThanEqualsToken]);
/** floor(n / 2) + 1, however spaced, or its shift twin. */
const MAJORITY = /Math\.floor\(\s*[^()]*(?:\([^()]*\))?[^()]*\/\s*2\s*\)\s*\+\s*1\b|>>\s*1\s*\)\s*\+\s*1\b/;


/** Whether `node` is a version id by name: a variable or property so named, bare or with a `??` default. */
function namesVersionId(node: ts.Expression): boolean {
  if (ts.isParenthesizedExpression(node) || ts.isNonNullExpression(node)) return namesVersionId(node.expression);
  if (ts.isBinaryExpression(node) && node.operatorToken.kind === ts.SyntaxKind.QuestionQuestionToken) return namesVersionId(node.left);
  if (ts.isIdentifier(node)) return VERSION_NAME.test(node.text);
  if (ts.isPropertyAccessExpression(node)) return VERSION_NAME.test(node.name.text);
  return false;
}

/**
 * Where `text` orders version ids by hand: `<`, `>`, `<=` or `>=` with an operand naming a version id
 * or tag revision, or localeCompare on one. Equality is not an order and stays free, and so does
 * comparing what compareVersionIds answers with 0.
 */
function rawVersionComparisons(name: string, text: string): string[] {
  const source = ts.createSourceFile(name, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const found: string[] = [];
  const report = (node: ts.Node): void => {
    const line = source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1;
    found.push(`${name}:${line}: ${node.getText(source)}`);
  };
  const visit = (node: ts.Node): void => {
    if (ts.isBinaryExpression(node) && RELATIONAL.has(node.operatorToken.kind)) {
      if (namesVersionId(node.left) || namesVersionId(node.right)) report(node);
    } else if (ts.isCallExpression(node) && ts.isPropertyAccessExpression(node.expression) && node.expression.name.text === 'localeCompare') {
      if (namesVersionId(node.expression.expression) || node.arguments.some((arg) => namesVersionId(arg))) report(node);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** The lines of `text` that match `pattern`, named as file:line. */
function linesMatching(pattern: RegExp, name: string, text: string): string[] {
  return text.split('\n').flatMap((line, i) => (pattern.test(line) ? [`${name}:${i + 1}: ${line.trim()}`] : []));
}

function majorityCounts(name: string, text: string): string[] {
  return linesMatching(MAJORITY, name, text);
}

/** Bucket or key text encoded to bytes (their framing for the hash), or a hash shifted down to a partition. */
const PARTITION_KEY_BYTES = /encodeUtf8Into\(\s*(?:\w+\.)*(?:bucket|key)\b/i;
const PARTITION_SHIFT = /BigInt\(\s*64\s*-|\b64n\s*-/;

const files = await typeScriptFiles(srcRoot);
const texts = await Promise.all(files.map(async (file) => ({ name: relative(srcRoot, file), text: await readFile(file, 'utf8') })));

t.test(`version ids are ordered only in ${VERSION_ORDER_OWNER} (compareVersionIds)`, async (t) => {
  t.ok(texts.some(({ name }) => name === VERSION_ORDER_OWNER), 'the owner file exists');
  const raw = texts.filter(({ name }) => name !== VERSION_ORDER_OWNER).flatMap(({ name, text }) => rawVersionComparisons(name, text));
  t.same(raw, [], 'use compareVersionIds or isNewerVersion');
});

t.test(`a majority is counted only in ${MAJORITY_OWNER} (majority)`, async (t) => {
  t.ok(texts.some(({ name }) => name === MAJORITY_OWNER), 'the owner file exists');
  t.same(
    texts.filter(({ name }) => name !== MAJORITY_OWNER).flatMap(({ name, text }) => majorityCounts(name, text)),
    [],
    'use majority()',
  );
});

t.test(`the partition key's bytes are built only in ${PARTITION_KEY_OWNER}, and a partition's hashes found only in ${PARTITION_RANGE_OWNER}`, async (t) => {
  t.ok(texts.some(({ name }) => name === PARTITION_KEY_OWNER) && texts.some(({ name }) => name === PARTITION_RANGE_OWNER), 'the owner files exist');
  t.same(
    texts.filter(({ name }) => name !== PARTITION_KEY_OWNER).flatMap(({ name, text }) => linesMatching(PARTITION_KEY_BYTES, name, text)),
    [],
    'use writePartitionKey',
  );
  t.same(
    texts.filter(({ name }) => name !== PARTITION_RANGE_OWNER).flatMap(({ name, text }) => linesMatching(PARTITION_SHIFT, name, text)),
    [],
    'use partitionHashRange',
  );
});

t.test('the checkers themselves catch what they look for', async (t) => {
  t.equal(rawVersionComparisons('a.ts', 'if (held.versionId >= record.versionId) x();').length, 1);
  t.equal(rawVersionComparisons('a.ts', "const n = (a.tagsRevision ?? '') > b;").length, 1);
  t.equal(rawVersionComparisons('a.ts', 'ids.sort((a, b) => a.versionId.localeCompare(b.versionId));').length, 1);
  t.equal(rawVersionComparisons('a.ts', 'if (fence > state.fence.versionId) x();').length, 1);
  t.equal(rawVersionComparisons('a.ts', 'const newer = versionIds[0]! < afterVersionId;').length, 1);
  t.same(rawVersionComparisons('a.ts', 'if (a.versionId === b.versionId && version < 3) x(); const f = (v: Map<string, VersionId>) => v;'), []);
  t.same(rawVersionComparisons('a.ts', 'if (compareVersionIds(held.versionId, record.versionId) >= 0) x();'), []);
  t.equal(majorityCounts('a.ts', 'const needed = Math.floor(nodes.length / 2) + 1;').length, 1);
  t.equal(majorityCounts('a.ts', 'const needed = Math.floor(count/2)+1;').length, 1);
  t.equal(majorityCounts('a.ts', 'const needed = Math.floor(size(set) / 2) + 1;').length, 1);
  t.equal(majorityCounts('a.ts', 'const needed = (n >> 1) + 1;').length, 1);
  t.same(majorityCounts('a.ts', 'const half = Math.floor(n / 2) + 10;'), []);
  t.equal(linesMatching(PARTITION_KEY_BYTES, 'a.ts', 'const end = encodeUtf8Into(bucket, buf, 4);').length, 1);
  t.equal(linesMatching(PARTITION_KEY_BYTES, 'a.ts', 'encodeUtf8Into(ref.key, buf, bucketEnd);').length, 1);
  t.same(linesMatching(PARTITION_KEY_BYTES, 'a.ts', 'const length = encodeUtf8Into(node.id, bytes, 0);'), []);
  t.equal(linesMatching(PARTITION_SHIFT, 'a.ts', 'const shift = BigInt(64 - bits);').length, 1);
});
