import type { ClassicLevel } from 'classic-level';
import { compareVersionIds } from '../../common/index.js';
import { isNullEntry, KeyVersionSieve, versionHides, type IndexEntry, type IndexVersionListQuery, type IndexVersionListResponse, type IndexVersionRow, type VersionHides } from '../../rpc/index.js';
import { ROW, afterPrefix, rowKey } from '../metadata-keys.js';
import { TAG, parseRow, type GoneValue, type IntentValue } from './index-row-keys.js';
import { clampToShard } from './index-ranges.js';
import { byteOrder, parse } from './row-keys.js';

/*
 * The versions mode of an index replica's listing (docs/bucket-index.md): every version of each key
 * that the replica's own rows do not hide, newest first, beside the versions deleted by id (so a
 * replica that missed the delete is outvoted). The rows are written blind (a settle reads nothing), so
 * the reader applies what each version replaced: KeyVersionSieve.
 */

/** Most rows one page reads. */
const SCAN_ROWS = 4_096;
/** Versions of the key a page resumes inside that are read again (to learn what they hid) before the key is left to its own nodes. */
const RESUME_READ_VERSIONS = 1_024;
/** Versions deleted by id one key may have here; past it the key is left to its own nodes. */
const MAX_GONE = 64;
/** Intents of one key read before the reader moves on. */
const INTENTS_READ = 8;

type Position = NonNullable<IndexVersionListResponse['resume']>;

/** What the listing knows of the key it is reading. */
interface KeyRead {
  key: string;
  /** Versions deleted by id: whether each was a null version (its `g` row ends). */
  gone: Map<string, boolean>;
  goneOverflow: boolean;
  intent: boolean;
  expired: string[];
  intentsRead: number;
  /** Gone versions not yet answered, newest first (set when the key's versions start). */
  pendingGone: string[] | undefined;
  sieve: KeyVersionSieve;
  /** The version the page resumes after in this key (`null`: its null version); undefined once past it. */
  resumeAfter: string | undefined;
  versionsReread: number;
  /** A version of the key stands for its common prefix. */
  rolledUp: boolean;
  /** The key is answered (an intent, a common prefix, or all it hides): its remaining rows are passed over. */
  done: boolean;
}

/** A page of a bucket incarnation's index in versions mode (see IndexVersionRow for the rows). */
export async function listIndexVersions(db: ClassicLevel<Buffer, Buffer>, query: IndexVersionListQuery): Promise<IndexVersionListResponse> {
  const scope = rowKey(ROW.index, query.bucket, String(query.incarnation), '');
  const keyStart = (key: string): Buffer => Buffer.concat([scope, Buffer.from(key, 'utf8'), Buffer.of(0x00)]);
  const keyEnd = (key: string): Buffer => Buffer.concat([scope, Buffer.from(key, 'utf8'), Buffer.of(0x00, 0xff)]);
  const prefixed = Buffer.concat([scope, Buffer.from(query.prefix, 'utf8')]);
  const fromStart = query.after === '' || byteOrder(query.after, query.prefix) < 0;
  const resumesInKey = !fromStart && !query.afterIsPrefix && query.afterVersion !== undefined;
  let gte: Buffer;
  if (fromStart) gte = prefixed;
  else if (query.afterIsPrefix) gte = afterPrefix(Buffer.concat([scope, Buffer.from(query.after, 'utf8')]));
  else gte = resumesInKey ? keyStart(query.after) : keyEnd(query.after);
  const delimiter = query.delimiter ?? '';
  const iterator = db.iterator(clampToShard({ gte, lt: afterPrefix(prefixed) }, scope, query));
  const now = Date.now();
  const rows: IndexVersionRow[] = [];
  const positions: Position[] = [];
  let counted = 0;
  let decided: Position = { after: query.after, afterIsPrefix: query.afterIsPrefix, ...(resumesInKey ? { afterVersion: query.afterVersion as string } : {}) };
  let current: KeyRead | undefined;

  const stateRows = new Set<IndexVersionRow>();
  // Adds a row; answers whether the page is over its limit (the row is then taken back).
  const push = (row: IndexVersionRow, position: Position): boolean => {
    rows.push(row);
    positions.push(position);
    counted += 1;
    if (counted <= query.limit) return false;
    rows.pop();
    positions.pop();
    // A row saying what the versions before the page hid goes with the row it came before.
    if (stateRows.has(rows.at(-1) as IndexVersionRow)) {
      rows.pop();
      positions.pop();
    }
    return true;
  };
  // A page stopped by its limit resumes after its last row; one stopped by its reading bound, after what it decided.
  const page = (truncated: boolean, byLimit = true): IndexVersionListResponse => {
    const resume = !truncated ? undefined : byLimit ? (positions.at(-1) ?? decided) : decided;
    return { rows, truncated, ...(resume === undefined ? {} : { resume }) };
  };
  const versionPosition = (key: string, versionId: string): Position => ({ after: key, afterIsPrefix: false, afterVersion: versionId });
  const keyPosition = (key: string): Position => ({ after: key, afterIsPrefix: false });

  // Takes what a version read newest first replaced (`hides`), and answers whether an earlier page
  // answered its row: the page resumes after a newer version, or after the key's null version, which
  // `isMarker` says this is. Past the marker, what the versions before the page hid goes first, as a
  // row of its own (the marker's own effect with them; the first row past it not).
  const answeredBefore = (state: KeyRead, versionId: string, isMarker: boolean, hides: VersionHides | undefined): boolean => {
    const after = state.resumeAfter;
    const answered = after !== undefined && (after === 'null' ? !isMarker : compareVersionIds(versionId, after) >= 0);
    if (after === undefined || answered) {
      state.sieve.note(hides);
      return answered;
    }
    state.resumeAfter = undefined;
    if (after === 'null') state.sieve.note(hides);
    const before = state.sieve.state;
    if (before !== undefined) {
      const row = { key: state.key, hides: before };
      stateRows.add(row);
      rows.push(row);
      positions.push(versionPosition(state.key, after));
    }
    if (after !== 'null') state.sieve.note(hides);
    // The null version named by the marker was answered too.
    return after === 'null';
  };

  // Answers the key as unsure (its own nodes decide it); answers whether the page is full.
  const unsure = (state: KeyRead): boolean => {
    state.done = true;
    const full = push({ key: state.key, intent: true, ...(state.expired.length === 0 ? {} : { expired: state.expired.slice(0, INTENTS_READ) }) }, keyPosition(state.key));
    if (!full) decided = keyPosition(state.key);
    return full;
  };

  // Answers gone versions newer than `versionId` (all with undefined); answers whether the page is full.
  const flushGone = (state: KeyRead, versionId: string | undefined): boolean => {
    const pending = state.pendingGone ?? [];
    while (pending.length > 0 && (versionId === undefined || compareVersionIds(pending[0] as string, versionId) > 0)) {
      const gone = pending.shift() as string;
      // A `g` row that ends names a null version, which had replaced the older null versions.
      const hides: VersionHides | undefined = state.gone.get(gone) === true ? 'olderNulls' : undefined;
      if (answeredBefore(state, gone, false, hides)) continue;
      if (push({ key: state.key, gone, ...(hides === undefined ? {} : { hides }) }, versionPosition(state.key, gone))) return true;
    }
    return false;
  };

  // Starts reading the key's versions (its gone and intent rows are read); answers whether the page is full.
  const startVersions = (state: KeyRead): boolean => {
    if (state.pendingGone !== undefined || state.done) return false;
    state.pendingGone = [...state.gone.keys()].sort((a, b) => compareVersionIds(b, a));
    if (state.intent || state.goneOverflow) return unsure(state);
    return false;
  };

  // Takes one version row; answers whether the page is full, and where to seek when the key is done.
  const version = (state: KeyRead, entry: IndexEntry): boolean => {
    if (state.resumeAfter !== undefined && (state.versionsReread += 1) > RESUME_READ_VERSIONS) return unsure(state);
    const rollup = rollupOf(state.key);
    if (rollup !== undefined) {
      // Under a common prefix: the first version S3 lists stands for it. Deleted null versions newer
      // than this one hid the older null versions.
      const pending = state.pendingGone ?? [];
      while (pending.length > 0 && compareVersionIds(pending[0] as string, entry.versionId) > 0) {
        if (state.gone.get(pending.shift() as string) === true) state.sieve.note('olderNulls');
      }
      const hidden = state.gone.has(entry.versionId) || state.sieve.hides(entry);
      state.sieve.note(versionHides(entry));
      if (hidden || (entry.deleted && entry.versioning === undefined)) return false;
      state.done = true;
      state.rolledUp = true;
      const full = push({ key: state.key, entry, rollup }, { after: rollup, afterIsPrefix: true });
      if (!full) decided = { after: rollup, afterIsPrefix: true };
      return full;
    }
    if (flushGone(state, entry.versionId)) return true;
    const pending = state.pendingGone ?? [];
    if (state.gone.has(entry.versionId)) {
      const at = pending.indexOf(entry.versionId);
      if (at >= 0) pending.splice(at, 1);
      const hides = versionHides(entry);
      if (!answeredBefore(state, entry.versionId, false, hides) && push({ key: state.key, gone: entry.versionId, ...(hides === undefined ? {} : { hides }) }, versionPosition(state.key, entry.versionId))) return true;
    } else {
      const hidden = state.sieve.hides(entry);
      const isMarker = !hidden && isNullEntry(entry);
      if (!answeredBefore(state, entry.versionId, isMarker, versionHides(entry)) && !hidden && push({ key: state.key, entry }, versionPosition(state.key, entry.versionId))) return true;
    }
    if (state.resumeAfter === undefined) decided = versionPosition(state.key, entry.versionId);
    return false;
  };

  // Ends the key (the iterator is past its rows); answers whether the page is full.
  const finish = (state: KeyRead): boolean => {
    if (startVersions(state)) return true;
    if (!state.done && rollupOf(state.key) === undefined && flushGone(state, undefined)) return true;
    decided = keyPosition(state.key);
    return false;
  };

  const rollupOf = (key: string): string | undefined => {
    if (delimiter === '') return undefined;
    const at = key.indexOf(delimiter, query.prefix.length);
    return at < 0 ? undefined : key.slice(0, at + delimiter.length);
  };

  try {
    for (let scanned = 0; scanned < SCAN_ROWS; scanned += 1) {
      const next = await iterator.next();
      if (next === undefined) {
        if (current !== undefined && finish(current)) return page(true);
        return page(false);
      }
      const [rowKeyBytes, value] = next;
      const parsed = parseRow(rowKeyBytes, scope.length);
      if (current === undefined || parsed.key !== current.key) {
        if (current !== undefined && finish(current)) return page(true);
        const resumeAfter = resumesInKey && parsed.key === query.after ? query.afterVersion : undefined;
        current = { key: parsed.key, gone: new Map(), goneOverflow: false, intent: false, expired: [], intentsRead: 0, pendingGone: undefined, sieve: new KeyVersionSieve(), resumeAfter, versionsReread: 0, rolledUp: false, done: false };
      }
      const state = current;
      if (state.done) continue;
      if (parsed.tag === TAG.gone) {
        if (state.gone.size < MAX_GONE) {
          state.gone.set(parsed.suffix, parse<GoneValue>(value).ends === true);
        } else {
          // Too many to weigh here: the key's own nodes decide it. On to its intents.
          state.goneOverflow = true;
          iterator.seek(Buffer.concat([keyStart(state.key), Buffer.from(TAG.intent, 'latin1')]));
        }
        continue;
      }
      if (parsed.tag === TAG.intent) {
        state.intent = true;
        if (parse<IntentValue>(value).expiresMs < now) state.expired.push(parsed.suffix);
        state.intentsRead += 1;
        if (state.intentsRead === INTENTS_READ) iterator.seek(Buffer.concat([keyStart(state.key), Buffer.from(TAG.version, 'latin1')]));
        continue;
      }
      if (parsed.tag !== TAG.version) continue;
      if (startVersions(state) || (!state.done && version(state, parse<IndexEntry>(value)))) return page(true);
      if (state.done) {
        const rollup = rollupOf(state.key);
        if (state.rolledUp && rollup !== undefined) {
          iterator.seek(afterPrefix(Buffer.concat([scope, Buffer.from(rollup, 'utf8')])));
        } else {
          iterator.seek(keyEnd(state.key));
          decided = keyPosition(state.key);
        }
        // The key is answered; the next row read belongs to another key.
        current = undefined;
      }
    }
  } finally {
    await iterator.close();
  }
  return page(true, false);
}
