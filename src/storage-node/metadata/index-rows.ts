import type { ClassicLevel } from 'classic-level';
import { compareVersionIds } from '../../common/index.js';
import {
  isNullEntry,
  type IndexEntry,
  type IndexExportQuery,
  type IndexExportResponse,
  type IndexShardBounds,
  type IndexIntent,
  type IndexListQuery,
  type IndexListResponse,
  type IndexOp,
  type IndexRow,
  type IndexVersionListQuery,
  type IndexVersionListResponse,
} from '../../rpc/index.js';
import { MetadataBatch } from '../group-commit.js';
import { ROW, afterPrefix, kindRange, newestFirst, rowKey } from '../metadata-keys.js';
import { clampToShard, dropRange, exportRange, walkKeys } from './index-ranges.js';
import { listIndexVersions } from './index-version-rows.js';
import { TAG, keyBase, parseIndexRow, parseRow, tagged, turnBack, type GoneValue, type IntentValue } from './index-row-keys.js';
import type { MetadataDb } from './metadata-db.js';
import { byteOrder, json, parse } from './row-keys.js';

/*
 * Rows of the bucket index's shards this node holds a replica of (docs/bucket-index.md). Every row is
 * `i, bucket, incarnation, key, tag, suffix`: tag `g` a version deleted by id (suffix: its id), `i` an
 * intent (suffix: the write's id), `v` a version's entry (suffix: its id turned newest first). Within a
 * key the tags sort g, i, v, so a reader meets what it must know before the key's newest version.
 *
 * Settles write without reading the key's rows first, so a replica may hold rows that say nothing any
 * more: the entry of a version a `g` row names, and entries of null versions older than a newer null
 * version (which replaced them when it committed) or than a null version deleted by id. Readers hide
 * them, and a listing that reads some deletes them.
 */

/** Most rows one listing page reads (deleted keys and skipped versions are read and passed over). */
const LIST_SCAN_ROWS = 4_096;
/** Versions of one key read in a row before the reader seeks past the rest. */
const VERSIONS_BEFORE_SEEK = 8;
/** Intents of one key read before the reader moves on to its versions (each expired one is reported). */
const INTENTS_READ = 8;
/** Versions deleted by id a row reports; past it the row says a write is in flight, so readers ask the key's own nodes. */
const MAX_GONE_REPORTED = 16;
/** Most part rows one forget removes: an upload has at most 10,000 parts, each with an entry or two. */
const MAX_FORGET_ROWS = 40_000;
/** The tags as the byte they are in a row's key. */
const TAG_BYTE = { gone: TAG.gone.charCodeAt(0), version: TAG.version.charCodeAt(0) } as const;

/** The replica's rows of the bucket index. */
export class IndexRows {
  private readonly meta: MetadataDb;
  /** Settles apply one request at a time: a settle reads a key's rows before it writes them. */
  private settling: Promise<void> = Promise.resolve();

  constructor(meta: MetadataDb) {
    this.meta = meta;
  }

  /** The row an intent writes, for a batch that carries it with other rows (a version's commit). */
  static intentRow(intent: IndexIntent): { key: Buffer; value: Buffer } {
    return { key: tagged(keyBase(intent.bucket, intent.incarnation, intent.key), TAG.intent, intent.id), value: json({ expiresMs: intent.expiresMs } satisfies IntentValue) };
  }

  /**
   * The key of the entry row of version `versionId` of the intent's key: a commit that carries the
   * intent and replaces that version deletes it in the same batch (the entry would be garbage).
   */
  static entryRowKey(intent: IndexIntent, versionId: string): Buffer {
    return tagged(keyBase(intent.bucket, intent.incarnation, intent.key), TAG.version, newestFirst(versionId));
  }

  /**
   * Applies changes in one batch, synced when one is an intent (an intent must outlive a crash). Most
   * changes only write: they go straight to the group commit beside other requests'. A request with a
   * settle that replaces older entries reads the keys it names first, so it waits for such requests
   * before it, and they for it.
   */
  apply(ops: readonly IndexOp[]): Promise<void> {
    if (!ops.some(readsFirst)) return this.applyOps(ops, undefined);
    const run = this.settling.then(() => this.applyReplacing(ops));
    this.settling = run.catch(() => undefined);
    return run;
  }

  private async applyReplacing(ops: readonly IndexOp[]): Promise<void> {
    const keys = new KeyStates(this.meta, ops.filter(readsFirst).map((op) => keyBase(op.bucket, op.incarnation, op.key)));
    try {
      await this.applyOps(ops, keys);
    } finally {
      await keys.close();
    }
  }

  /** Writes `ops` in one batch; `keys` holds the state of the keys a replacing settle names. */
  private async applyOps(ops: readonly IndexOp[], keys: KeyStates | undefined): Promise<void> {
    const batch = new MetadataBatch();
    let durable = false;
    for (const op of ops) {
      const base = keyBase(op.bucket, op.incarnation, op.key);
      if (op.op === 'intent') {
        durable = true;
        batch.put(tagged(base, TAG.intent, op.id), json({ expiresMs: op.expiresMs } satisfies IntentValue));
        continue;
      }
      if (op.op === 'forget') {
        await this.forget(batch, op);
        continue;
      }
      if (op.intent !== undefined) batch.del(tagged(base, TAG.intent, op.intent));
      const state = await keys?.of(base);
      if (op.gone !== undefined) {
        batch.put(tagged(base, TAG.gone, op.gone), json((op.replaces === true ? { ends: true } : {}) satisfies GoneValue));
        batch.del(tagged(base, TAG.version, newestFirst(op.gone)));
        state?.gone.add(op.gone);
        state?.versions.delete(op.gone);
      }
      if (op.entry !== undefined) {
        if (state === undefined) batch.put(tagged(base, TAG.version, newestFirst(op.entry.versionId)), json(op.entry));
        else settleEntry(batch, state, base, op.entry, op.replaces === true);
      }
    }
    await (durable ? this.meta.write(batch) : this.meta.writeUnsynced(batch));
  }

  /**
   * Adds to `batch` the deletes that forget a closed upload: the marker's entries and `g` rows up to
   * its closing marker, and those of its parts (keys under `marker/`, at most 10,000 of them). Intents
   * stay. Nothing needs it to be synced: a forgotten row that comes back only costs a listing a read.
   */
  private async forget(batch: MetadataBatch, op: Extract<IndexOp, { op: 'forget' }>): Promise<void> {
    const base = keyBase(op.bucket, op.incarnation, op.key);
    const own = Buffer.concat([base, Buffer.of(0x00)]);
    for await (const rowKeyBytes of this.meta.db.keys({ gte: own, lt: afterPrefix(own) })) {
      const { tag, suffix } = parseRow(rowKeyBytes, base.length);
      if ((tag === TAG.version || tag === TAG.gone) && compareVersionIds(suffix, op.through) <= 0) batch.del(rowKeyBytes);
    }
    const parts = keyBase(op.bucket, op.incarnation, `${op.key}/`);
    for await (const rowKeyBytes of this.meta.db.keys({ gte: parts, lt: afterPrefix(parts), limit: MAX_FORGET_ROWS })) {
      const tag = rowKeyBytes[rowKeyBytes.indexOf(0x00, parts.length) + 1];
      if (tag === TAG_BYTE.version || tag === TAG_BYTE.gone) batch.del(rowKeyBytes);
    }
  }

  /**
   * Up to `limit` of this replica's rows as the changes that would write them on another replica, in
   * row order after `after` (the hex of the last row of the previous page; null: from the first), and
   * where the next page starts (null at the end). What a ring change hands on to a shard's new replicas.
   */
  async exportPage(after: string | null, limit: number): Promise<{ ops: Exclude<IndexOp, { op: 'forget' }>[]; next: string | null }> {
    const range = kindRange(ROW.index);
    const options = after === null ? { ...range, limit } : { gt: Buffer.from(after, 'hex'), lt: range.lt, limit };
    const ops: Exclude<IndexOp, { op: 'forget' }>[] = [];
    let last: Buffer | undefined;
    for await (const [key, value] of this.meta.db.iterator(options)) {
      last = key;
      const { bucket, incarnation, row } = parseIndexRow(key);
      const scope = { bucket, incarnation, key: row.key };
      if (row.tag === TAG.version) ops.push({ op: 'settle', ...scope, entry: parse<IndexEntry>(value) });
      else if (row.tag === TAG.gone) ops.push({ op: 'settle', ...scope, gone: row.suffix, ...(parse<GoneValue>(value).ends === true ? { replaces: true } : {}) });
      else if (row.tag === TAG.intent) ops.push({ op: 'intent', ...scope, id: row.suffix, expiresMs: parse<IntentValue>(value).expiresMs });
    }
    return { ops, next: last === undefined || ops.length < limit ? null : last.toString('hex') };
  }

  /**
   * The keys with intents past their deadline among up to `scanRows` of this replica's rows after
   * `after` (the hex of the last row scanned; null: from the first), and where the next scan starts
   * (null at the end). What the node's resolver of abandoned writes works through (intent-resolver.ts).
   */
  async expiredIntents(after: string | null, now: number, scanRows: number): Promise<{ keys: ExpiredIntents[]; next: string | null }> {
    const range = kindRange(ROW.index);
    const options = after === null ? { ...range, limit: scanRows } : { gt: Buffer.from(after, 'hex'), lt: range.lt, limit: scanRows };
    const keys: ExpiredIntents[] = [];
    let last: Buffer | undefined;
    let scanned = 0;
    for await (const [key, value] of this.meta.db.iterator(options)) {
      last = key;
      scanned += 1;
      const { bucket, incarnation, row } = parseIndexRow(key);
      if (row.tag !== TAG.intent || parse<IntentValue>(value).expiresMs >= now) continue;
      const previous = keys.at(-1);
      if (previous !== undefined && previous.bucket === bucket && previous.incarnation === incarnation && previous.key === row.key) previous.intents.push(row.suffix);
      else keys.push({ bucket, incarnation, key: row.key, intents: [row.suffix] });
    }
    return { keys, next: last === undefined || scanned < scanRows ? null : last.toString('hex') };
  }

  /** The versions this replica holds entries of for one key (whether each is a null version), newest first. */
  async keyEntries(bucket: string, incarnation: number, key: string): Promise<{ versionId: string; isNull: boolean }[]> {
    const prefix = Buffer.concat([keyBase(bucket, incarnation, key), Buffer.from(`\u0000${TAG.version}\u0000`, 'latin1')]);
    const entries: { versionId: string; isNull: boolean }[] = [];
    for await (const [rowKeyBytes, value] of this.meta.db.iterator({ gte: prefix, lt: afterPrefix(prefix) })) {
      entries.push({ versionId: turnBack(rowKeyBytes.toString('latin1', prefix.length)), isNull: isNullEntry(parse<IndexEntry>(value)) });
    }
    return entries;
  }

  /**
   * A page of a bucket incarnation's index, one row per key in byte order (see IndexRow). With a
   * delimiter, the first key under a common prefix whose newest version here is settled and live
   * stands for the prefix and the reader seeks past it; keys under it with a write in flight or a
   * delete by id are returned too (the gateway decides them), deleted ones are passed over. Reads at
   * most LIST_SCAN_ROWS rows: a page stopped there says where to resume.
   */
  async list(query: IndexListQuery): Promise<IndexListResponse> {
    const scope = rowKey(ROW.index, query.bucket, String(query.incarnation), '');
    const prefixed = Buffer.concat([scope, Buffer.from(query.prefix, 'utf8')]);
    const start = byteOrder(query.after, query.prefix) > 0 ? query.after : query.prefix;
    const startKey = Buffer.concat([scope, Buffer.from(start, 'utf8')]);
    const skipsStart = query.after !== '' && start === query.after;
    let range = { gte: skipsStart ? afterPrefix(startKey) : startKey, lt: afterPrefix(prefixed) };
    if (skipsStart && !query.afterIsPrefix) {
      // After the key `after` itself: its rows are `after 00 …`; a longer key `after…` sorts after them.
      range.gte = Buffer.concat([startKey, Buffer.of(0x00, 0xff)]);
    }
    range = clampToShard(range, scope, query);
    const delimiter = query.delimiter ?? '';
    const rows: IndexRow[] = [];
    const garbage = new MetadataBatch();
    const rowsIn = new RowBatches(this.meta.db.iterator(range));
    const now = Date.now();
    let current: KeyState | undefined;
    let resume: IndexListResponse['resume'];
    /** Whether the iterator just moved past a common prefix (see below). */
    let seekedPast = false;
    /** The keys of the parts of the closed upload whose marker was just read (`<marker>/`): their rows are garbage. */
    let closedParts: string | undefined;

    // Ends the current key: returns whether the page is full.
    const finish = (state: KeyState): boolean => {
      resume = { after: state.key, afterIsPrefix: false };
      closedParts = closesUpload(state) ? `${state.key}/` : undefined;
      const row = rowOf(state);
      if (row === undefined) return false;
      if (delimiter !== '') {
        const at = state.key.indexOf(delimiter, query.prefix.length);
        if (at >= 0) {
          const rollup = state.key.slice(0, at + delimiter.length);
          const settledLive = row.entry !== undefined && !row.entry.deleted && row.intent === undefined && row.gone === undefined;
          if (settledLive) {
            rows.push({ ...row, rollup });
            rowsIn.seek(afterPrefix(Buffer.concat([scope, Buffer.from(rollup, 'utf8')])));
            seekedPast = true;
            resume = { after: rollup, afterIsPrefix: true };
            return rows.length > query.limit;
          }
          // A deleted key under a prefix stands for nothing; one the gateway must decide is returned.
          if (row.intent === undefined && row.gone === undefined) return false;
        }
      }
      rows.push(row);
      return rows.length > query.limit;
    };

    try {
      for (let scanned = 0; scanned < LIST_SCAN_ROWS; scanned += 1) {
        const next = await rowsIn.next();
        if (next === undefined) {
          if (current !== undefined && finish(current)) return full(rows, query.limit);
          return { rows, truncated: false };
        }
        const [rowKeyBytes, value] = next;
        const parsed = parseRow(rowKeyBytes, scope.length);
        if (current === undefined || parsed.key !== current.key) {
          if (current !== undefined && finish(current)) return full(rows, query.limit);
          // The key just finished stood for a common prefix and the iterator moved past it: this row was
          // read before the move. Under the prefix, it is skipped; past it, the iterator reads it again.
          if (seekedPast) {
            seekedPast = false;
            current = undefined;
            continue;
          }
          if (closedParts !== undefined && parsed.key.startsWith(closedParts)) {
            // A part of an upload closed for good lists nothing (ListParts refuses a closed upload):
            // its entries go; an intent stays for the key's nodes to decide.
            if (parsed.tag === TAG.version || parsed.tag === TAG.gone) garbage.del(rowKeyBytes);
            current = undefined;
            resume = { after: parsed.key, afterIsPrefix: false };
            continue;
          }
          closedParts = undefined;
          current = { key: parsed.key, gone: [], intent: false, expired: [], intentsRead: 0, entry: undefined, versionsRead: 0, goneOverflow: false, nullFloor: undefined };
        }
        const { skipTo, isGarbage } = readRow(current, parsed, value, now);
        if (isGarbage) garbage.del(rowKeyBytes);
        if (skipTo !== undefined) rowsIn.seek(Buffer.concat([rowKeyBytes.subarray(0, parsed.keyEnd), skipTo]));
      }
    } finally {
      await rowsIn.close();
      await this.dropGarbage(garbage);
    }
    return { rows, truncated: true, ...(resume === undefined ? {} : { resume }) };
  }

  /** A page of the rows of keys in a range, as changes (a shard split's copy; index-ranges.ts). */
  exportRange(query: IndexExportQuery): Promise<IndexExportResponse> {
    return exportRange(this.meta.db, query);
  }

  /** Deletes the rows of keys in a range (a split moved them to a shard this node holds no replica of). */
  dropRange(query: { bucket: string; incarnation: number; from: string; before?: string | undefined }): Promise<number> {
    return dropRange(this.meta, query);
  }

  /** How many keys this replica holds rows of in a shard's range, counting no further than `cap`. */
  countKeys(bucket: string, incarnation: number, bounds: IndexShardBounds, cap: number): Promise<number> {
    return walkKeys(this.meta.db, bucket, incarnation, bounds, (_key, before) => before + 1 < cap);
  }

  /** The key with `position` keys before it in a shard's range on this replica, if it holds that many. */
  async keyAt(bucket: string, incarnation: number, bounds: IndexShardBounds, position: number): Promise<string | undefined> {
    let found: string | undefined;
    await walkKeys(this.meta.db, bucket, incarnation, bounds, (key, before) => {
      if (before < position) return true;
      found = key;
      return false;
    });
    return found;
  }

  /** A page of a bucket incarnation's index in versions mode: every version of each key its rows do not hide (index-version-rows.ts). */
  listVersions(query: IndexVersionListQuery): Promise<IndexVersionListResponse> {
    return listIndexVersions(this.meta.db, query);
  }

  /**
   * Deletes rows a listing found to say nothing any more. Nothing can make them count again, so the
   * write is not synced; one that fails leaves them for the next listing to find.
   */
  private async dropGarbage(garbage: MetadataBatch): Promise<void> {
    if (garbage.length === 0) return;
    await this.meta.writeUnsynced(garbage).catch(() => undefined);
  }
}

/** A key's intents past their deadline. */
export interface ExpiredIntents {
  bucket: string;
  incarnation: number;
  key: string;
  /** The intents' ids. */
  intents: string[];
}

/** What the listing knows of the key it is reading. */
interface KeyState {
  key: string;
  gone: string[];
  goneOverflow: boolean;
  intent: boolean;
  /** Ids of intents read that are past their deadline. */
  expired: string[];
  intentsRead: number;
  entry: IndexEntry | undefined;
  versionsRead: number;
  /** The newest null version known to have committed (an entry, or a `g` row that ends): older null versions are garbage. */
  nullFloor: string | undefined;
}

/** What reading one row says: where in the key's rows the reader goes next (the bytes after the key), and whether the row is garbage. */
interface RowVerdict {
  skipTo?: Buffer | undefined;
  isGarbage?: boolean;
}

/** Takes one row of the key being read into its state. */
function readRow(state: KeyState, row: { tag: string; suffix: string }, value: Buffer, now: number): RowVerdict {
  if (row.tag === TAG.gone) {
    if (parse<GoneValue>(value).ends === true) raiseNullFloor(state, row.suffix);
    if (state.gone.length < MAX_GONE_REPORTED * 4) {
      state.gone.push(row.suffix);
      return {};
    }
    // Too many to weigh here: the key's own nodes decide it. On to its intents.
    state.goneOverflow = true;
    return { skipTo: Buffer.from(`\u0000${TAG.intent}`, 'latin1') };
  }
  if (row.tag === TAG.intent) {
    state.intent = true;
    if (parse<IntentValue>(value).expiresMs < now) state.expired.push(row.suffix);
    // A few intents say enough: on to the key's versions.
    state.intentsRead += 1;
    return { skipTo: state.intentsRead === INTENTS_READ ? Buffer.from(`\u0000${TAG.version}`, 'latin1') : undefined };
  }
  if (row.tag !== TAG.version) return {};
  if (state.entry !== undefined) {
    // Past the key's newest live version: its older ones are read over, or skipped at once.
    state.versionsRead += 1;
    const skipTo = state.versionsRead === VERSIONS_BEFORE_SEEK ? Buffer.of(0x00, 0xff) : undefined;
    // An upload's closing marker ends it for good: the marker's older entries say nothing any more.
    return { skipTo, isGarbage: state.gone.includes(row.suffix) || belowNullFloor(state, row.suffix, value) || state.entry.upload?.closed !== undefined };
  }
  if (state.gone.includes(row.suffix) || belowNullFloor(state, row.suffix, value)) return { isGarbage: true };
  const entry = parse<IndexEntry>(value);
  state.entry = entry;
  if (isNullEntry(entry)) raiseNullFloor(state, entry.versionId);
  return {};
}

/** Whether the key read is an upload's marker whose newest entry here is its settled closing marker. */
function closesUpload(state: KeyState): boolean {
  return state.entry?.deleted === true && state.entry.upload?.closed !== undefined && !state.intent && !state.goneOverflow;
}

function raiseNullFloor(state: KeyState, versionId: string): void {
  if (state.nullFloor === undefined || compareVersionIds(versionId, state.nullFloor) > 0) state.nullFloor = versionId;
}

/**
 * Whether the entry row of `versionId` (its value `value`) is a null version older than the key's
 * newest committed one. Strictly older: a row read again after a seek (a roll-up's seek may land on
 * the row just read) is the floor's own entry, not garbage; a null version deleted by id is hidden by
 * its `g` row.
 */
function belowNullFloor(state: KeyState, versionId: string, value: Buffer): boolean {
  return state.nullFloor !== undefined && compareVersionIds(versionId, state.nullFloor) < 0 && isNullEntry(parse<IndexEntry>(value));
}

/** The row a key's state answers; undefined when the replica holds nothing of it worth saying. */
function rowOf(state: KeyState): IndexRow | undefined {
  const entryId = state.entry?.versionId;
  const gone = state.gone.filter((versionId) => entryId === undefined || compareVersionIds(versionId, entryId) > 0);
  const unsure = state.intent || state.goneOverflow || gone.length > MAX_GONE_REPORTED;
  if (state.entry === undefined && gone.length === 0 && !unsure) return undefined;
  return {
    key: state.key,
    ...(state.entry === undefined ? {} : { entry: state.entry }),
    ...(unsure ? { intent: true as const } : {}),
    ...(state.expired.length === 0 ? {} : { expired: state.expired }),
    ...(gone.length === 0 || unsure ? {} : { gone }),
  };
}

/** A full page: `limit` rows, one more was found. */
function full(rows: IndexRow[], limit: number): IndexListResponse {
  return { rows: rows.slice(0, limit), truncated: true };
}

/** Whether a change reads the key's rows before it writes: a settle whose entry replaces older null versions. */
function readsFirst(op: IndexOp): boolean {
  return op.op === 'settle' && op.entry !== undefined && op.replaces === true;
}

/** What a replacing settle needs to know of a key: the versions it holds entries of (whether each is a null version), and those deleted by id. */
interface SettleState {
  versions: Map<string, boolean>;
  gone: Set<string>;
}

/**
 * Records a committed version unless it was deleted by id; with `replaces` (the entry is a null
 * version), drops the key's older null versions, and records nothing when a newer null version is
 * there (it replaced this one).
 */
function settleEntry(batch: MetadataBatch, state: SettleState, base: Buffer, entry: IndexEntry, replaces: boolean): void {
  if (state.gone.has(entry.versionId)) return;
  if (replaces) {
    for (const [versionId, isNull] of state.versions) {
      if (!isNull) continue;
      const order = compareVersionIds(versionId, entry.versionId);
      if (order > 0) return;
      if (order < 0) {
        batch.del(tagged(base, TAG.version, newestFirst(versionId)));
        state.versions.delete(versionId);
      }
    }
  }
  batch.put(tagged(base, TAG.version, newestFirst(entry.versionId)), json(entry));
  state.versions.set(entry.versionId, isNullEntry(entry));
}

/**
 * The state of the keys a request's replacing settles name, each read once through one iterator (an
 * iterator made per key cost more than the rest of a settle) and kept up to date as the request's
 * changes apply. Other keys have none: their changes only write.
 */
class KeyStates {
  private readonly meta: MetadataDb;
  private readonly read: Set<string>;
  private readonly states = new Map<string, SettleState>();
  private iterator: ReturnType<ClassicLevel<Buffer, Buffer>['iterator']> | undefined;

  constructor(meta: MetadataDb, bases: readonly Buffer[]) {
    this.meta = meta;
    this.read = new Set(bases.map((base) => base.toString('latin1')));
  }

  async of(base: Buffer): Promise<SettleState | undefined> {
    const id = base.toString('latin1');
    if (!this.read.has(id)) return undefined;
    const known = this.states.get(id);
    if (known !== undefined) return known;
    const state: SettleState = { versions: new Map(), gone: new Set() };
    this.iterator ??= this.meta.db.iterator(kindRange(ROW.index));
    const prefix = Buffer.concat([base, Buffer.of(0x00)]);
    this.iterator.seek(prefix);
    for (let done = false; !done; ) {
      const entries = await this.iterator.nextv(16);
      if (entries.length === 0) break;
      for (const [key, value] of entries as [Buffer, Buffer][]) {
        if (key.length < prefix.length + 2 || !key.subarray(0, prefix.length).equals(prefix)) {
          done = true;
          break;
        }
        const tag = String.fromCharCode(key[prefix.length] ?? 0);
        const suffix = key.toString('latin1', prefix.length + 2);
        if (tag === TAG.gone) state.gone.add(suffix);
        else if (tag === TAG.version) state.versions.set(turnBack(suffix), isNullEntry(parse<IndexEntry>(value)));
      }
    }
    this.states.set(id, state);
    return state;
  }

  async close(): Promise<void> {
    await this.iterator?.close();
  }
}

/** Rows the first read after a seek (or the start) takes; each further read without a seek takes twice as many. */
const FIRST_BATCH_ROWS = 32;
/** The most rows one read takes. */
const MAX_BATCH_ROWS = 1_024;

/**
 * An iterator's rows one at a time, read from LevelDB in batches: each read crosses into the database's
 * thread, so a row at a time cost a listing of 1,000 keys more than all else on the node. Batches start
 * small and grow while the walk runs straight on, so a walk that seeks often (past common prefixes, a
 * key's many versions) reads little it then drops; a seek drops what the current batch holds beyond the
 * row last taken, as it moves the iterator.
 */
/** What RowBatches reads from: a LevelDB iterator of keys and values. */
interface RowIterator {
  nextv(size: number): Promise<[Buffer, Buffer][]>;
  seek(target: Buffer): void;
  close(): Promise<void>;
}

class RowBatches {
  private readonly iterator: RowIterator;
  private batch: [Buffer, Buffer][] = [];
  private at = 0;
  private size = FIRST_BATCH_ROWS;
  private done = false;

  constructor(iterator: RowIterator) {
    this.iterator = iterator;
  }

  async next(): Promise<[Buffer, Buffer] | undefined> {
    if (this.at >= this.batch.length) {
      if (this.done) return undefined;
      this.batch = await this.iterator.nextv(this.size);
      this.at = 0;
      this.size = Math.min(MAX_BATCH_ROWS, this.size * 2);
      if (this.batch.length === 0) {
        this.done = true;
        return undefined;
      }
    }
    const row = this.batch[this.at];
    this.at += 1;
    return row;
  }

  seek(target: Buffer): void {
    this.iterator.seek(target);
    this.batch = [];
    this.at = 0;
    this.size = FIRST_BATCH_ROWS;
    this.done = false;
  }

  close(): Promise<void> {
    return this.iterator.close();
  }
}
