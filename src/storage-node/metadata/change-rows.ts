import type { ChangeNote, LoggedChange } from '../../rpc/index.js';
import { MetadataBatch } from '../group-commit.js';
import { ROW, keyParts, prefixRange, rowKey } from '../metadata-keys.js';
import type { MetadataDb } from './metadata-db.js';
import type { ExtraRow } from './object-rows.js';
import { json, parse } from './row-keys.js';

/*
 * The node's change log (docs/events.md): an outbox of the changes its commits carried a note of,
 * written in the batch of the change itself. Rows are `c, l, seq` (the change: bucket, key, note, when
 * it was logged, the destinations this node delivered), `c, i, id` (the seq of change `id`: a change is
 * logged once however often its commit is retried) and `c, d, id` (change `id` was delivered: when, so
 * an offer of it from another member is answered "delivered" for a while).
 *
 * The sequence is the node's own: 16 hex digits, taken under the key's lock, so one key's changes are
 * in the order they committed here. It starts at the clock (ms × 1024) or after the last row logged,
 * whichever is later, so it keeps increasing across restarts.
 */

const PART = { log: 'l', id: 'i', delivered: 'd' } as const;
/** Sequence numbers per millisecond of the clock before the sequence runs ahead of it. */
const PER_MS = 1024;
/** Most rows a page returns. */
export const MAX_CHANGE_PAGE = 1_000;

type LogValue = Omit<LoggedChange, 'seq'>;

function logKey(seq: string): Buffer {
  return rowKey(ROW.changes, PART.log, seq);
}

function idKey(id: string): Buffer {
  return rowKey(ROW.changes, PART.id, id);
}

function deliveredKey(id: string): Buffer {
  return rowKey(ROW.changes, PART.delivered, id);
}

/** The node's change log. */
export class ChangeRows {
  private readonly meta: MetadataDb;
  private readonly clock: () => number;
  /** The last sequence number taken; read from the log on first use. */
  private last: number | undefined;

  constructor(meta: MetadataDb, clock: () => number = Date.now) {
    this.meta = meta;
    this.clock = clock;
  }

  /**
   * The rows that log `note` (a change of `key` in `bucket`), for the batch that makes the change: none
   * when this node logged or delivered that change already (a retried commit). `fresh`: the caller knows
   * this node never applied the change (a commit whose prepared shard still waits), so the log is not
   * read for it: that read cost a small PUT to a notified bucket 0.7 ms of CPU over its six nodes. Only
   * a member's offer can have logged such a change before (its commit more than offerAfterMs late);
   * the second copy then goes with the first when the change is done (done's `readAt`). The caller
   * holds the key's lock, so the key's changes take their sequence numbers in commit order.
   */
  async rowsFor(bucket: string, key: string, note: ChangeNote, options: { fresh?: boolean } = {}): Promise<ExtraRow[]> {
    if (options.fresh !== true) {
      const [logged, delivered] = await this.meta.db.getMany([idKey(note.id), deliveredKey(note.id)]);
      if (logged !== undefined || delivered !== undefined) return [];
    }
    const seq = await this.nextSeq();
    const value: LogValue = { bucket, key, note, loggedMs: this.clock(), delivered: [] };
    return [
      { key: logKey(seq), value: json(value) },
      { key: idKey(note.id), value: Buffer.from(seq, 'latin1') },
    ];
  }

  /** Writes rows rowsFor gave on their own (synced), for a change whose batch wrote nothing else. */
  async write(rows: readonly ExtraRow[]): Promise<void> {
    if (rows.length === 0) return;
    const batch = new MetadataBatch();
    for (const row of rows) {
      if (row.value === null) batch.del(row.key);
      else batch.put(row.key, row.value);
    }
    await this.meta.write(batch);
  }

  /** Up to `limit` logged changes after `afterSeq` (from the start when undefined), in log order. */
  async page(afterSeq: string | undefined, limit: number): Promise<LoggedChange[]> {
    const range = prefixRange(rowKey(ROW.changes, PART.log, ''));
    const options = afterSeq === undefined ? { ...range } : { gt: logKey(afterSeq), lt: range.lt };
    const changes: LoggedChange[] = [];
    for await (const [rowKeyBytes, value] of this.meta.db.iterator({ ...options, limit: Math.max(1, Math.min(limit, MAX_CHANGE_PAGE)) })) {
      const seq = keyParts(rowKeyBytes)[1] ?? '';
      changes.push({ seq, ...parse<LogValue>(value) });
    }
    return changes;
  }

  /** How many changes the node has logged and not yet seen delivered. */
  async count(): Promise<number> {
    let count = 0;
    for await (const _ of this.meta.db.keys(prefixRange(rowKey(ROW.changes, PART.log, '')))) count += 1;
    return count;
  }

  /**
   * Records that this node delivered change `seq` to one of its destinations (a change with several),
   * named by `destination`: the delivery's key for it (its place in the note).
   */
  async markDelivered(seq: string, destination: string): Promise<void> {
    const row = await this.meta.db.get(logKey(seq));
    if (row === undefined) return;
    const value = parse<LogValue>(row);
    if (value.delivered.includes(destination)) return;
    value.delivered.push(destination);
    await this.meta.write(new MetadataBatch().put(logKey(seq), json(value)));
  }

  /**
   * The version each of changes `ids` this node logged is about, where it names one: a new version's or
   * a delete marker's own id, a tag change's version. Changes not logged here are left out.
   */
  async changedVersions(ids: readonly string[]): Promise<{ id: string; bucket: string; key: string; versionId: string }[]> {
    if (ids.length === 0) return [];
    const seqs = await this.meta.db.getMany(ids.map(idKey));
    const logged = await this.meta.db.getMany(seqs.map((seq) => logKey(seq === undefined ? '' : seq.toString('latin1'))));
    const versions: { id: string; bucket: string; key: string; versionId: string }[] = [];
    ids.forEach((id, i) => {
      const row = seqs[i] === undefined ? undefined : logged[i];
      if (row === undefined) return;
      const { bucket, key, note } = parse<LogValue>(row);
      // A tag change is ordered by its revision; the version it changed is the one it names (never `null` under replication).
      const versionId = note.eventName.startsWith('s3:ObjectTagging:') ? note.versionId : note.orderId;
      if (versionId !== undefined && versionId !== 'null') versions.push({ id, bucket, key, versionId });
    });
    return versions;
  }

  /**
   * Forgets changes `ids`, delivered (by this node or another member): their rows go, and a marker of
   * each stays so that an offer of it later is answered "delivered". `readAt`: where the caller read
   * each change in this log, when it did; that row goes too, should the change have been logged twice
   * (a commit logged without a look at the log, after an offer logged it: see rowsFor), so that no copy
   * outlives its id. Returns how many rows it removed.
   */
  async done(ids: readonly string[], readAt?: ReadonlyMap<string, string>): Promise<number> {
    if (ids.length === 0) return 0;
    const seqs = await this.meta.db.getMany(ids.map(idKey));
    const batch = new MetadataBatch();
    const nowMs = this.clock();
    let removed = 0;
    ids.forEach((id, i) => {
      const seq = seqs[i]?.toString('latin1');
      if (seq !== undefined) {
        batch.del(logKey(seq)).del(idKey(id));
        removed += 1;
      }
      const read = readAt?.get(id);
      if (read !== undefined && read !== seq) {
        batch.del(logKey(read));
        removed += 1;
      }
      batch.put(deliveredKey(id), json({ deliveredMs: nowMs }));
    });
    await this.meta.write(batch);
    return removed;
  }

  /**
   * Another member offers a change it has held for a while without hearing it was delivered: answered
   * "delivered" when this node delivered it; otherwise logged here (unless it is already) for this node
   * to deliver, and answered "pending".
   */
  async offered(bucket: string, key: string, note: ChangeNote): Promise<'delivered' | 'pending'> {
    if ((await this.meta.db.get(deliveredKey(note.id))) !== undefined) return 'delivered';
    await this.write(await this.rowsFor(bucket, key, note));
    return 'pending';
  }

  /** Drops markers of changes delivered before `ms`, at most `limit` of them; how many it dropped. */
  async dropMarkersBefore(ms: number, limit = MAX_CHANGE_PAGE * 10): Promise<number> {
    const batch = new MetadataBatch();
    for await (const [key, value] of this.meta.db.iterator(prefixRange(rowKey(ROW.changes, PART.delivered, '')))) {
      if (parse<{ deliveredMs: number }>(value).deliveredMs < ms) batch.del(key);
      if (batch.length >= limit) break;
    }
    if (batch.length > 0) await this.meta.write(batch);
    return batch.length;
  }

  private async nextSeq(): Promise<string> {
    if (this.last === undefined) {
      let last = 0;
      const range = prefixRange(rowKey(ROW.changes, PART.log, ''));
      for await (const key of this.meta.db.keys({ ...range, reverse: true, limit: 1 })) last = Number.parseInt(keyParts(key)[1] ?? '0', 16);
      // Another commit may have read it meanwhile: the first to come back wins.
      this.last ??= last;
    }
    this.last = Math.max(this.last + 1, this.clock() * PER_MS);
    return this.last.toString(16).padStart(16, '0');
  }
}
