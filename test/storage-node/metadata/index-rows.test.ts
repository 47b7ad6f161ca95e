import { join } from 'node:path';
import { t } from 'tap';
import type { IndexEntry, IndexListQuery, IndexOp, IndexVersionListQuery, IndexVersionListResponse } from '../../../src/rpc/index.js';
import { newestFirst } from '../../../src/storage-node/metadata-keys.js';
import { TAG, keyBase, tagged } from '../../../src/storage-node/metadata/index-row-keys.js';
import { IndexRows } from '../../../src/storage-node/metadata/index-rows.js';
import { MetadataDb } from '../../../src/storage-node/metadata/metadata-db.js';
import { MetadataStore } from '../../../src/storage-node/metadata-store.js';
import { tempDir, versionId } from '../store-fixture.js';

/** A replica's bucket index rows (index-rows.ts) over a real LevelDB. */

async function openRows(t: { teardown(fn: () => Promise<void>): void }): Promise<MetadataStore> {
  const store = new MetadataStore(join(await tempDir(t, 'index-rows'), 'meta'));
  await store.open();
  t.teardown(() => store.close());
  return store;
}

const INC = 1_700_000_000_000;
/** The n each version id of these tests was made from. */
const NUMBER_OF = new Map(Array.from({ length: 10_001 }, (_, n) => [versionId(n), n]));

/** Version n's entry: a null version unless `versioning` says otherwise (see isNullEntry). */
function entry(n: number, options: { deleted?: boolean; versioning?: 'Enabled' | 'Suspended' } = {}): IndexEntry {
  return {
    versionId: versionId(n),
    deleted: options.deleted === true,
    sizeBytes: n,
    etag: `"e${n}"`,
    lastModifiedMs: n,
    checksums: {},
    ...(options.versioning === undefined ? {} : { versioning: options.versioning }),
  };
}

/** The rows the replica holds of `key`, as `v<n>`, `g<n>` and `i<n>`, in row order. */
async function rowsOf(store: MetadataStore, key: string): Promise<string[]> {
  const { ops } = await store.indexRows.exportPage(null, 10_000);
  return ops
    .filter((op) => op.key === key)
    .map((op) => (op.op === 'intent' ? `i${NUMBER_OF.get(op.id)}` : op.entry !== undefined ? `v${NUMBER_OF.get(op.entry.versionId)}` : `g${NUMBER_OF.get(op.gone ?? '')}`));
}

const settle = (key: string, fields: Partial<Extract<IndexOp, { op: 'settle' }>>, bucket = 'b'): IndexOp => ({ op: 'settle', bucket, incarnation: INC, key, ...fields });
const intent = (key: string, n: number): IndexOp => ({ op: 'intent', bucket: 'b', incarnation: INC, key, id: versionId(n), expiresMs: Date.now() + 60_000 });

function query(fields: Partial<IndexListQuery> = {}): IndexListQuery {
  return { bucket: 'b', incarnation: INC, prefix: '', after: '', afterIsPrefix: false, limit: 1000, ...fields };
}

/** A page as `key@version[!marker][+intent][-gone...][>rollup]`. */
async function page(store: MetadataStore, fields: Partial<IndexListQuery> = {}): Promise<string[]> {
  const answer = await store.indexRows.list(query(fields));
  return answer.rows.map((row) => {
    let text = row.key;
    if (row.entry !== undefined) text += `@${NUMBER_OF.get(row.entry.versionId)}${row.entry.deleted ? '!' : ''}`;
    if (row.intent === true) text += '+intent';
    if (row.gone !== undefined) text += `-gone${row.gone.map((id) => NUMBER_OF.get(id)).join(',')}`;
    if (row.rollup !== undefined) text += `>${row.rollup}`;
    return text;
  });
}

t.test('a replica lists each key once, at its newest version, in byte order', async (t) => {
  const store = await openRows(t);
  await store.indexRows.apply([settle('b', { entry: entry(1) }), settle('a', { entry: entry(2) }), settle('a', { entry: entry(3) }), settle('ab', { entry: entry(4) })]);
  t.same(await page(store), ['a@3', 'ab@4', 'b@1']);
  t.same(await page(store, { after: 'a' }), ['ab@4', 'b@1'], 'after a key: the key is skipped, longer keys are not');
  t.same(await page(store, { after: 'a', afterIsPrefix: true }), ['b@1'], 'after a prefix: every key under it is skipped');
  t.same(await page(store, { prefix: 'a' }), ['a@3', 'ab@4']);
  const limited = await store.indexRows.list(query({ limit: 2 }));
  t.same([limited.rows.map((r) => r.key), limited.truncated], [['a', 'ab'], true], 'a page stops at its limit and says more follows');
});

t.test('a key with a write in flight is marked until the write settles, and the settle lands the entry', async (t) => {
  const store = await openRows(t);
  await store.indexRows.apply([settle('k', { entry: entry(1) })]);
  await store.indexRows.apply([intent('k', 5), intent('new', 6)]);
  t.same(await page(store), ['k@1+intent', 'new+intent'], 'an intent shows even before any entry exists');
  await store.indexRows.apply([settle('k', { intent: versionId(5), entry: entry(7) }), settle('new', { intent: versionId(6) })]);
  t.same(await page(store), ['k@7'], 'settled: the new entry, and nothing for a write that committed nothing');
});

t.test('an unversioned overwrite replaces older entries whichever order the settles arrive in', async (t) => {
  const store = await openRows(t);
  await store.indexRows.apply([settle('k', { entry: entry(1) })]);
  await store.indexRows.apply([settle('k', { entry: entry(3), replaces: true })]);
  await store.indexRows.apply([settle('k', { entry: entry(2), replaces: true })]);
  const rows = await store.indexRows.list(query());
  t.same(await page(store), ['k@3']);
  t.equal(rows.rows.length, 1);
  // Both in one batch, newest first.
  await store.indexRows.apply([settle('j', { entry: entry(9), replaces: true }), settle('j', { entry: entry(8), replaces: true })]);
  t.same(await page(store, { prefix: 'j' }), ['j@9']);
});

t.test('a version deleted by id leaves the index for good and outvotes replicas that still hold it', async (t) => {
  const store = await openRows(t);
  await store.indexRows.apply([settle('k', { entry: entry(1) }), settle('k', { entry: entry(2) })]);
  await store.indexRows.apply([settle('k', { gone: versionId(2) })]);
  t.same(await page(store), ['k@1-gone2'], 'the older version is newest now; the gone newer one is reported for the merge');
  await store.indexRows.apply([settle('k', { entry: entry(2) })]);
  t.same(await page(store), ['k@1-gone2'], 'a late settle of a deleted version is refused');
  await store.indexRows.apply([settle('k', { gone: versionId(1) })]);
  t.same(await page(store), ['k-gone1,2'], 'no version left: the row still says what was deleted');
});

t.test('with a delimiter a replica rolls each common prefix up at its first settled live key and seeks past the rest', async (t) => {
  const store = await openRows(t);
  const ops: IndexOp[] = [];
  for (let i = 0; i < 50; i += 1) ops.push(settle(`p/${String(i).padStart(3, '0')}`, { entry: entry(i + 1) }));
  ops.push(settle('q/1', { entry: entry(100, { deleted: true }) }), settle('q/2', { entry: entry(101) }));
  ops.push(settle('r/1', { entry: entry(102, { deleted: true }) }));
  ops.push(settle('top', { entry: entry(103) }));
  await store.indexRows.apply(ops);
  await store.indexRows.apply([intent('s/1', 104)]);
  t.same(await page(store, { delimiter: '/' }), ['p/000@1>p/', 'q/2@101>q/', 's/1+intent', 'top@103'], 'a deleted key rolls nothing up; a key in flight is returned for the gateway to decide');
  t.same(await page(store, { delimiter: '/', after: 'p/', afterIsPrefix: true }), ['q/2@101>q/', 's/1+intent', 'top@103']);
  t.same(await page(store, { delimiter: '/', prefix: 'p/0', limit: 3 }), ['p/000@1', 'p/001@2', 'p/002@3'], 'no delimiter after the prefix: keys are listed');
});

t.test('a bucket created again under the same name starts with an empty index', async (t) => {
  const store = await openRows(t);
  await store.indexRows.apply([settle('k', { entry: entry(1) })]);
  t.same((await store.indexRows.list(query({ incarnation: INC + 1 }))).rows, []);
  t.same((await store.indexRows.list(query({ bucket: 'bb' }))).rows, [], 'nor does a bucket whose name extends it see its rows');
});

t.test('a key with many versions costs one page row, and a long run of deleted keys resumes where it stopped', async (t) => {
  const store = await openRows(t);
  const ops: IndexOp[] = [];
  for (let v = 1; v <= 40; v += 1) ops.push(settle('many', { entry: entry(v) }));
  ops.push(settle('next', { entry: entry(50) }));
  await store.indexRows.apply(ops);
  t.same(await page(store), ['many@40', 'next@50']);

  const deleted: IndexOp[] = [];
  for (let i = 0; i < 5_000; i += 1) deleted.push(settle(`d/${String(i).padStart(5, '0')}`, { entry: entry(i + 1, { deleted: true }) }));
  for (let i = 0; i < deleted.length; i += 1_000) await store.indexRows.apply(deleted.slice(i, i + 1_000));
  await store.indexRows.apply([settle('e', { entry: entry(9_999) })]);
  let answer = await store.indexRows.list(query({ delimiter: '/' }));
  const seen: string[] = [];
  let guard = 0;
  for (;;) {
    seen.push(...answer.rows.map((r) => r.key));
    if (!answer.truncated) break;
    t.ok(answer.resume !== undefined || answer.rows.length > 0, 'a truncated page says where to go on');
    const from = answer.resume ?? { after: answer.rows.at(-1)?.key ?? '', afterIsPrefix: false };
    answer = await store.indexRows.list(query({ delimiter: '/', ...from }));
    guard += 1;
    if (guard > 10) break;
  }
  t.same(seen, ['e', 'many', 'next'], 'delete markers are passed over across pages');
  t.ok(guard >= 1, 'the deleted run took more than one page');
});

t.test('settles write without reading: a late settle of an older null version is hidden, and a listing drops its row', async (t) => {
  const store = await openRows(t);
  await store.indexRows.apply([settle('k', { entry: entry(3) })]);
  await store.indexRows.apply([settle('k', { entry: entry(2) })]);
  t.same(await rowsOf(store, 'k'), ['v3', 'v2'], 'the older entry was written blind');
  t.same(await page(store), ['k@3'], 'the newest null version is listed');
  t.same(await rowsOf(store, 'k'), ['v3'], 'the listing deleted the garbage row');
});

t.test('a null version deleted by id hides the older null versions a blind settle left, but not versions written under versioning', async (t) => {
  const store = await openRows(t);
  // An Enabled version, then null versions (versioning suspended) whose older rows were left behind.
  await store.indexRows.apply([settle('k', { entry: entry(1, { versioning: 'Enabled' }) })]);
  await store.indexRows.apply([settle('k', { entry: entry(2, { versioning: 'Suspended' }) }), settle('k', { entry: entry(3, { versioning: 'Suspended' }) })]);
  await store.indexRows.apply([settle('k', { gone: versionId(3), replaces: true })]);
  t.same(await page(store), ['k@1-gone3'], 'null version 2 went when 3 committed; the Enabled version 1 is the key\'s newest');
  t.same(await rowsOf(store, 'k'), ['g3', 'v1'], 'the listing dropped the older null version\'s row');

  // Without versioning ever enabled: every version is a null version.
  await store.indexRows.apply([settle('u', { entry: entry(5) }), settle('u', { entry: entry(6) })]);
  await store.indexRows.apply([settle('u', { gone: versionId(6), replaces: true })]);
  t.same(await page(store, { prefix: 'u' }), ['u-gone6'], 'nothing is left to list: the deleted object does not come back as its older version');
  const exported = await store.indexRows.exportPage(null, 100);
  t.ok(
    exported.ops.some((op) => op.op === 'settle' && op.gone === versionId(6) && op.replaces === true),
    'a rebalance hands the end of the older null versions on with the g row',
  );
});

t.test('a delete by id of a version written under versioning hides only that version', async (t) => {
  const store = await openRows(t);
  await store.indexRows.apply([settle('k', { entry: entry(1, { versioning: 'Enabled' }) }), settle('k', { entry: entry(2, { versioning: 'Enabled' }) })]);
  await store.indexRows.apply([settle('k', { gone: versionId(2) })]);
  await store.indexRows.apply([settle('k', { entry: entry(2, { versioning: 'Enabled' }) })]);
  t.same(await page(store), ['k@1-gone2'], 'a late settle of the deleted version stays hidden');
  t.same(await rowsOf(store, 'k'), ['g2', 'v1'], 'and a listing drops its row');
});

t.test('a roll-up\'s seek that lands on the row just read neither lists the next key twice nor takes its entry for garbage', async (t) => {
  const store = await openRows(t);
  // The row of `q` is read before the seek past `p/` (it ends `p/1`), and again after it.
  await store.indexRows.apply([settle('p/1', { entry: entry(1) }), settle('q', { entry: entry(3) }), settle('r/1', { entry: entry(4) })]);
  t.same(await page(store, { delimiter: '/' }), ['p/1@1>p/', 'q@3', 'r/1@4>r/']);
  t.same(await rowsOf(store, 'q'), ['v3'], 'the next key\'s entry is still there');
  t.same(await page(store), ['p/1@1', 'q@3', 'r/1@4']);
});

/*
 * Versions mode. Settles may be written blind (they read nothing first), so these tests write rows
 * straight into a replica's LevelDB, in any order, as such settles leave them.
 */

async function openBlind(t: { teardown(fn: () => Promise<void>): void }): Promise<{ rows: IndexRows; write(key: string, row: BlindRow): Promise<void> }> {
  const meta = new MetadataDb(join(await tempDir(t, 'index-versions'), 'meta'));
  await meta.open();
  t.teardown(() => meta.close());
  const write = async (key: string, row: BlindRow): Promise<void> => {
    const base = keyBase('b', INC, key);
    if ('gone' in row) await meta.db.put(tagged(base, TAG.gone, versionId(row.gone)), Buffer.from(JSON.stringify(row.ends === true ? { ends: true } : {})));
    else if ('intent' in row) await meta.db.put(tagged(base, TAG.intent, versionId(row.intent)), Buffer.from(JSON.stringify({ expiresMs: Date.now() + 60_000 })));
    else await meta.db.put(tagged(base, TAG.version, newestFirst(row.entry.versionId)), Buffer.from(JSON.stringify(row.entry)));
  };
  return { rows: new IndexRows(meta), write };
}

type BlindRow = { entry: IndexEntry } | { gone: number; ends?: boolean } | { intent: number };

/** A version entry written with the bucket's versioning `Enabled` (E), `Suspended` (S) or never set (U). */
function ver(n: number, versioning: 'E' | 'S' | 'U', options: { deleted?: boolean } = {}): IndexEntry {
  const base = entry(n, options);
  return versioning === 'U' ? base : { ...base, versioning: versioning === 'E' ? 'Enabled' : 'Suspended' };
}

/** A versions page as `key@n[!]`, `key-gone n[^nulls]`, `key^nulls` (what versions before the page hid), `key+intent`, `>rollup`. */
async function versionsPage(rows: IndexRows, fields: Partial<IndexVersionListQuery> = {}): Promise<{ rows: string[]; truncated: boolean; resume: IndexVersionListResponse['resume'] }> {
  const answer = await rows.listVersions({ ...query(), ...fields });
  return {
    truncated: answer.truncated,
    resume: answer.resume,
    rows: answer.rows.map((row) => {
      let text = row.key;
      if (row.entry !== undefined) text += `@${NUMBER_OF.get(row.entry.versionId)}${row.entry.deleted ? '!' : ''}`;
      if (row.gone !== undefined) text += `-gone${NUMBER_OF.get(row.gone)}`;
      if (row.hides !== undefined) text += '^nulls';
      if (row.intent === true) text += '+intent';
      if (row.rollup !== undefined) text += `>${row.rollup}`;
      return text;
    }),
  };
}

t.test('versions mode lists every version of each key newest first, and deletes by id beside them', async (t) => {
  const { rows, write } = await openBlind(t);
  for (const n of [1, 2, 3]) await write('k', { entry: ver(n, 'E') });
  await write('k', { gone: 2 });
  await write('k', { gone: 5 });
  await write('a', { entry: ver(7, 'E', { deleted: true }) });
  t.same((await versionsPage(rows)).rows, ['a@7!', 'k-gone5', 'k@3', 'k-gone2', 'k@1'], 'a delete by id hides its version whichever row came first, and is answered for the merge');
});

t.test('versions mode pages end inside a key and resume after its version', async (t) => {
  const { rows, write } = await openBlind(t);
  for (let n = 1; n <= 5; n += 1) await write('k', { entry: ver(n, 'E') });
  await write('k', { gone: 3 });
  await write('z', { entry: ver(9, 'E') });
  const seen: string[] = [];
  let from: Partial<IndexVersionListQuery> = {};
  for (let guard = 0; guard < 10; guard += 1) {
    const answer = await versionsPage(rows, { ...from, limit: 2 });
    seen.push(...answer.rows);
    if (!answer.truncated) break;
    t.ok(answer.resume !== undefined, 'a truncated page says where the next starts');
    from = { ...answer.resume };
  }
  t.same(seen, ['k@5', 'k@4', 'k-gone3', 'k@2', 'k@1', 'z@9'], 'every row once, in order');
  t.same((await versionsPage(rows, { after: 'k', afterVersion: versionId(4) })).rows, ['k-gone3', 'k@2', 'k@1', 'z@9']);
});

t.test('versions mode applies what each version replaced: a null version replaces the older null versions, never one written under versioning', async (t) => {
  const { rows, write } = await openBlind(t);
  // Written while the bucket never had versioning: the newest replaced every older version.
  await write('u', { entry: ver(1, 'U') });
  await write('u', { entry: ver(2, 'U') });
  await write('u', { entry: ver(3, 'U') });
  // Versioning enabled, then suspended: the suspended write replaced the older null versions only.
  await write('s', { entry: ver(10, 'U') });
  await write('s', { entry: ver(11, 'E') });
  await write('s', { entry: ver(12, 'S') });
  await write('s', { entry: ver(13, 'E') });
  // A null version deleted by id: the older null versions it replaced stay garbage.
  await write('g', { entry: ver(20, 'U') });
  await write('g', { gone: 21, ends: true });
  t.same((await versionsPage(rows)).rows, ['g-gone21^nulls', 's@13', 's@12', 's@11', 'u@3'], 'a deleted null version (its g row ends) hid the older null ones');
  t.same((await versionsPage(rows, { prefix: 's', limit: 2 })).rows, ['s@13', 's@12']);
  const resumed = await versionsPage(rows, { prefix: 's', after: 's', afterVersion: versionId(12) });
  t.same(resumed.rows, ['s^nulls', 's@11'], 'a page resuming inside a key says what the versions before it hid');
  t.same((await versionsPage(rows, { prefix: 's', after: 's', afterVersion: versionId(13) })).rows, ['s@12', 's@11'], 'what the first version of the page hid is not said to come before it');
  t.same((await versionsPage(rows, { prefix: 's', after: 's', afterVersion: 'null' })).rows, ['s^nulls', 's@11'], 'the marker `null` names the version the key lists as null');
  await write('d', { entry: ver(30, 'U') });
  await write('d', { entry: ver(31, 'U', { deleted: true }) });
  t.same((await versionsPage(rows, { prefix: 'd' })).rows, ['d@31!'], 'an unversioned delete is answered (the gateway lists nothing of it) and ends the key');
  // A write from a gateway that had not yet seen versioning enabled: the nodes keep the version written under it.
  await write('x', { entry: ver(40, 'E') });
  await write('x', { entry: ver(41, 'U') });
  t.same((await versionsPage(rows, { prefix: 'x' })).rows, ['x@41', 'x@40'], 'a version written under versioning outlives a newer null version');
});

t.test('versions mode leaves a key with a write in flight to its own nodes, and rolls prefixes up at their first listed version', async (t) => {
  const { rows, write } = await openBlind(t);
  await write('f', { entry: ver(1, 'E') });
  await write('f', { intent: 2 });
  await write('p/1', { entry: ver(3, 'U', { deleted: true }) });
  await write('p/2', { entry: ver(4, 'E') });
  await write('p/2', { entry: ver(5, 'E') });
  await write('p/2', { gone: 5 });
  await write('p/3', { entry: ver(6, 'E') });
  await write('q/1', { entry: ver(7, 'E') });
  await write('q/1', { gone: 7 });
  t.same((await versionsPage(rows, { delimiter: '/' })).rows, ['f+intent', 'p/2@4>p/'], 'an unversioned delete and a version deleted by id stand for no prefix');
  t.same((await versionsPage(rows, { after: 'f', afterVersion: versionId(9) })).rows.slice(0, 1), ['f+intent'], 'a page resuming inside the key says so too');
});

t.test('versions mode: a null version deleted by id hides the older null versions blind settles left, not versions written under versioning', async (t) => {
  const store = await openRows(t);
  await store.indexRows.apply([settle('k', { entry: entry(1, { versioning: 'Enabled' }) })]);
  await store.indexRows.apply([settle('k', { entry: entry(2, { versioning: 'Suspended' }) }), settle('k', { entry: entry(3, { versioning: 'Suspended' }) })]);
  await store.indexRows.apply([settle('k', { entry: entry(2, { versioning: 'Suspended' }) })]);
  await store.indexRows.apply([settle('k', { gone: versionId(3), replaces: true })]);
  t.same((await versionsPage(store.indexRows)).rows, ['k-gone3^nulls', 'k@1']);
});

t.test('versions mode: under a common prefix, a deleted null version keeps the null versions it replaced from standing for the prefix', async (t) => {
  const { rows, write } = await openBlind(t);
  await write('p/1', { entry: ver(1, 'S') });
  await write('p/1', { gone: 2, ends: true });
  await write('p/1', { entry: ver(3, 'E', { deleted: true }) });
  t.same((await versionsPage(rows, { delimiter: '/' })).rows, ['p/1@3!>p/'], 'a versioned delete marker is listed, so it stands for the prefix');
  await write('q/1', { entry: ver(4, 'S') });
  await write('q/1', { gone: 5, ends: true });
  t.same((await versionsPage(rows, { delimiter: '/', prefix: 'q' })).rows, [], 'the older null version was replaced: nothing stands for q/');
});

/** An upload marker's entry, open or closed (aborted), as the uploads index holds it. */
function markerEntry(n: number, closed: boolean): IndexEntry {
  return { ...entry(n, { deleted: closed }), upload: { bucket: 'u', key: `obj${n}`, initiatedMs: n, ...(closed ? { closed: 'aborted' as const, closedMs: n } : {}) } };
}

t.test('a listing that reads a closed upload drops its marker\'s older entry and its parts\' rows, and keeps the closing marker', async (t) => {
  const store = await openRows(t);
  await store.indexRows.apply([
    settle('u/closed', { entry: markerEntry(1, false) }),
    settle('u/closed/1', { entry: entry(2) }),
    settle('u/closed/2', { entry: entry(3) }),
    settle('u/closed', { entry: markerEntry(4, true) }),
    settle('u/open', { entry: markerEntry(5, false) }),
    settle('u/open/1', { entry: entry(6) }),
  ]);
  await store.indexRows.apply([intent('u/closed/3', 7)]);
  t.same(await page(store, { prefix: 'u/', delimiter: '/' }), ['u/closed@4!', 'u/open@5', 'u/open/1@6>u/open/'], 'the closed upload\'s parts are not rolled up; the open one\'s are');
  t.same(await rowsOf(store, 'u/closed'), ['v4'], 'only the closing marker is left of the marker');
  t.same([await rowsOf(store, 'u/closed/1'), await rowsOf(store, 'u/closed/2'), await rowsOf(store, 'u/closed/3')], [[], [], ['i7']], 'the parts\' entries went, an intent stays');
  t.same(await rowsOf(store, 'u/open/1'), ['v6'], 'an open upload keeps its parts');
});

t.test('forget removes a closed upload\'s marker entries through its closing version and its parts\' rows, and keeps intents and newer rows', async (t) => {
  const store = await openRows(t);
  await store.indexRows.apply([
    settle('u/x', { entry: markerEntry(1, false) }),
    settle('u/x', { entry: markerEntry(3, true) }),
    settle('u/x', { entry: markerEntry(9, false) }),
    settle('u/x/1', { entry: entry(2) }),
    settle('u/x/2', { gone: versionId(4) }),
    settle('u/xy', { entry: markerEntry(5, false) }),
    settle('u/open', { entry: markerEntry(6, false) }),
  ]);
  await store.indexRows.apply([intent('u/x/3', 7)]);
  await store.indexRows.apply([{ op: 'forget', bucket: 'b', incarnation: INC, key: 'u/x', through: versionId(3) }]);
  t.same(await rowsOf(store, 'u/x'), ['v9'], 'entries through the closing version go, a newer one stays');
  t.same([await rowsOf(store, 'u/x/1'), await rowsOf(store, 'u/x/2'), await rowsOf(store, 'u/x/3')], [[], [], ['i7']], 'parts\' entries and g rows go, an intent stays');
  t.same([await rowsOf(store, 'u/xy'), await rowsOf(store, 'u/open')], [['v5'], ['v6']], 'other uploads, even one whose id the marker\'s is a prefix of, are untouched');
});

t.test('a shard split counts each key once within its bounds and finds the median, past keys with more versions than one read takes', async (t) => {
  const store = await openRows(t);
  const ops: IndexOp[] = [];
  // Keys k000..k199, one version each, and k050 with 2,500 versions: rows of one key across several batches.
  for (let i = 0; i < 200; i += 1) ops.push(settle(`k${String(i).padStart(3, '0')}`, { entry: entry(i, { versioning: 'Enabled' }) }));
  for (let n = 1_000; n < 3_500; n += 1) ops.push(settle('k050', { entry: entry(n % 10_000, { versioning: 'Enabled' }) }));
  // A second incarnation's rows beside them, never counted.
  ops.push({ ...settle('k100', { entry: entry(9_999) }), incarnation: INC + 1 });
  await store.indexRows.apply(ops);
  t.equal((await rowsOf(store, 'k050')).length, 2_501, 'k050 has a row per version');
  t.equal(await store.indexRows.countKeys('b', INC, {}, 1_000), 200, 'every key once, however many rows it has');
  t.equal(await store.indexRows.countKeys('b', INC, { from: 'k040', before: 'k060' }, 1_000), 20, "a shard's keys only");
  t.equal(await store.indexRows.countKeys('b', INC, {}, 75), 75, 'no further than the cap');
  t.equal(await store.indexRows.keyAt('b', INC, {}, 100), 'k100', 'the key with 100 before it');
  t.equal(await store.indexRows.keyAt('b', INC, { from: 'k040' }, 11), 'k051', 'counted from the shard\'s first key, past the many versions');
  t.equal(await store.indexRows.keyAt('b', INC, {}, 200), undefined, 'none past the end');
});
