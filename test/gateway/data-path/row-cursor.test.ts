import { t } from 'tap';
import type { ListEntry, ObjectRecord } from '../../../src/rpc/index.js';
import { MergedRows, RowCursor, withinKeyLength, type RowPosition } from '../../../src/gateway/data-path/row-cursor.js';
import { ReadDeadline } from '../../../src/gateway/data-path/read-retry.js';

/** A node's sorted rows (key ascending, newest version first) served in pages of `pageSize`, as a node answers a listing. */
function node(rows: [string, string][], pageSize: number) {
  const asked: RowPosition[] = [];
  const fetchPage = async (from: RowPosition & { limit: number }) => {
    asked.push({ after: from.after, afterVersion: from.afterVersion, afterIsPrefix: from.afterIsPrefix });
    const start = rows.findIndex(([key, version]) =>
      from.afterIsPrefix
        ? !key.startsWith(from.after) && key > from.after
        : key > from.after || (from.afterVersion !== undefined && key === from.after && version < from.afterVersion),
    );
    const rest = start === -1 ? [] : rows.slice(start);
    const page = rest.slice(0, Math.min(pageSize, from.limit));
    const entries = page.map(([key, versionId]): ListEntry => ({ key, record: { key, versionId } as unknown as ObjectRecord }));
    return { entries, truncated: rest.length > page.length };
  };
  return { fetchPage, asked };
}

async function drain(cursor: RowCursor): Promise<string[]> {
  const seen: string[] = [];
  for (let row = await cursor.head(); row !== undefined; row = await cursor.head()) {
    seen.push(`${row.key}@${row.record.versionId}`);
    cursor.pop();
  }
  return seen;
}

const options = { signal: new AbortController().signal, timeoutMs: 60_000 };

t.test('a cursor reads every row across page boundaries, in order', async (t) => {
  const { fetchPage } = node([['a', '1'], ['b', '1'], ['c', '1'], ['d', '1'], ['e', '1']], 2);
  t.same(await drain(new RowCursor(fetchPage, { after: '', afterIsPrefix: false }, { ...options, byVersion: false })), ['a@1', 'b@1', 'c@1', 'd@1', 'e@1']);
});

t.test('a version cursor resumes inside a key at the version after the last one it got', async (t) => {
  const rows: [string, string][] = [['a', '3'], ['a', '2'], ['a', '1'], ['b', '2'], ['b', '1']];
  const { fetchPage, asked } = node(rows, 2);
  t.same(await drain(new RowCursor(fetchPage, { after: '', afterIsPrefix: false }, { ...options, byVersion: true })), ['a@3', 'a@2', 'a@1', 'b@2', 'b@1']);
  t.same(asked[1], { after: 'a', afterVersion: '2', afterIsPrefix: false }, 'the second page starts after version 2 of a');
});

t.test('skipping a prefix that runs past the page asks the node to resume after the whole prefix', async (t) => {
  const { fetchPage, asked } = node([['dir/1', '1'], ['dir/2', '1'], ['dir/3', '1'], ['dir/4', '1'], ['z', '1']], 2);
  const cursor = new RowCursor(fetchPage, { after: '', afterIsPrefix: false }, { ...options, byVersion: true });
  t.equal((await cursor.head())?.key, 'dir/1');
  cursor.skipPrefix('dir/');
  t.same(await drain(cursor), ['z@1'], 'nothing under dir/ is read again');
  t.same(asked.at(-1), { after: 'dir/', afterVersion: undefined, afterIsPrefix: true });
});

/** A node whose first `slowPages` page requests run out of time (a TimeoutError, as a deadline gives), then answer. */
function slowNode(rows: [string, string][], slowPages: number) {
  const healthy = node(rows, 10);
  let asked = 0;
  const fetchPage = async (from: RowPosition & { limit: number }) => {
    asked += 1;
    if (asked <= slowPages) throw new Error('request aborted', { cause: new DOMException('timed out', 'TimeoutError') });
    return healthy.fetchPage(from);
  };
  return { fetchPage, asked: () => asked };
}

async function mergedKeys(rows: MergedRows): Promise<string[]> {
  const keys: string[] = [];
  for (let row = await rows.next(byKey); row !== undefined; row = await rows.next(byKey)) keys.push(row.key);
  return keys;
}

function byKey(a: ListEntry, b: ListEntry): number {
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}

const start = { after: '', afterIsPrefix: false };

t.test('a listing whose nodes all run out of time at once asks them again instead of failing', async (t) => {
  const rows: [string, string][] = [['a', '1'], ['b', '1']];
  const slow = [slowNode(rows, 2), slowNode(rows, 1), slowNode(rows, 3)];
  const merged = new MergedRows(
    slow.map((n, i) => ({ nodeId: `n${i}`, cursor: new RowCursor(n.fetchPage, start, { ...options, byVersion: false }) })),
    1,
    { deadline: new ReadDeadline(), signal: options.signal },
  );
  t.same(await mergedKeys(merged), ['a', 'b']);
  // Asked again while too few answered; the slowest is dropped once the others make a listing without it.
  t.same(slow.map((n) => n.asked()), [3, 2, 3], 'nodes were asked again until enough answered');
});

t.test('a slow node is dropped, not waited for, while the others still make a listing', async (t) => {
  const rows: [string, string][] = [['a', '1']];
  const hung = slowNode(rows, Number.POSITIVE_INFINITY);
  const healthy = [node(rows, 10), node(rows, 10)];
  const merged = new MergedRows(
    [hung, ...healthy].map((n, i) => ({ nodeId: `n${i}`, cursor: new RowCursor(n.fetchPage, start, { ...options, byVersion: false }) })),
    1,
    { deadline: new ReadDeadline(), signal: options.signal },
  );
  t.same(await mergedKeys(merged), ['a']);
  t.equal(hung.asked(), 1, 'the slow node was asked once');
});

t.test('nodes that refuse are not asked again: past the tolerance the listing fails at once', async (t) => {
  let asked = 0;
  const refusing = async () => {
    asked += 1;
    throw new Error('node unreachable: connect ECONNREFUSED');
  };
  const merged = new MergedRows(
    [0, 1].map((i) => ({ nodeId: `n${i}`, cursor: new RowCursor(refusing, start, { ...options, byVersion: false }) })),
    1,
    { deadline: new ReadDeadline(), signal: options.signal },
  );
  await t.rejects(merged.next(byKey), { code: 'ServiceUnavailable' });
  t.equal(asked, 2, 'each node was asked once');
});

t.test('slow nodes are asked again only until the read deadline', async (t) => {
  const rows: [string, string][] = [['a', '1']];
  const slow = [slowNode(rows, Number.POSITIVE_INFINITY), slowNode(rows, Number.POSITIVE_INFINITY)];
  const merged = new MergedRows(
    slow.map((n, i) => ({ nodeId: `n${i}`, cursor: new RowCursor(n.fetchPage, start, { ...options, byVersion: false }) })),
    0,
    { deadline: new ReadDeadline(performance.now(), 200), signal: options.signal },
  );
  await t.rejects(merged.next(byKey), { code: 'ServiceUnavailable' });
  t.ok(slow.every((n) => n.asked() > 1), 'they were asked more than once before the deadline passed');
});

t.test('a position longer than any key is named within 1,024 bytes, keeping how every key sorts against it', async (t) => {
  const short = { after: 'k', afterVersion: 'v1', afterIsPrefix: false };
  t.equal(withinKeyLength(short), short, 'a position a key can have is kept');
  const atBoundary = withinKeyLength({ after: `${'a'.repeat(1024)}b`, afterVersion: 'v1', afterIsPrefix: true });
  t.same(atBoundary, { after: 'a'.repeat(1024), afterVersion: undefined, afterIsPrefix: false }, 'cut at a character boundary: after those bytes');
  for (const char of ['\u00E9', '\u20AC', '\u{1F600}']) {
    const marker = `${'a'.repeat(1023)}${char}`;
    t.same(withinKeyLength({ after: marker, afterIsPrefix: false }), { after: 'a'.repeat(1023), afterVersion: undefined, afterIsPrefix: true }, `cut inside ${char}: after every key starting with the bytes before it`);
  }
});

t.test("a full page of 1,000 keys takes one fetch of 1,001 rows from each node, the row that says more follow included", async (t) => {
  const rows = Array.from({ length: 3_000 }, (_, i): [string, string] => [`k${String(i).padStart(5, '0')}`, '1']);
  const limits: number[] = [];
  const { fetchPage } = node(rows, 10_000);
  const cursor = new RowCursor(
    async (from: RowPosition & { limit: number }) => {
      limits.push(from.limit);
      return fetchPage(from);
    },
    { after: '', afterIsPrefix: false },
    { ...options, byVersion: false, firstPageEntries: 1_001 },
  );
  let read = 0;
  while (read < 1_001 && (await cursor.head()) !== undefined) {
    cursor.pop();
    read += 1;
  }
  t.equal(read, 1_001);
  t.same(limits, [1_001], 'one fetch covers the page and its next row');
  t.equal(cursor.buffered(), undefined, 'the row after them needs a fetch');
  t.equal((await cursor.head())?.key, 'k01001', 'which asks for the rows after it');
  t.same(limits, [1_001, 1_000]);
});
