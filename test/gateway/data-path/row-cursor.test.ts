import { t } from 'tap';
import type { ListEntry, ObjectRecord } from '../../../src/rpc/index.js';
import { RowCursor, type RowPosition } from '../../../src/gateway/data-path/row-cursor.js';

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
