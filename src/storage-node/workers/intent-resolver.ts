import { DEFAULTS, compareVersionIds } from '../../common/index.js';
import type { RingNode } from '../../placement/index.js';
import { fanOut, indexEntryOf, indexOfRow, indexOwnerOf, newestRecord, type IndexOp, type ObjectRecord } from '../../rpc/index.js';
import type { ExpiredIntents } from '../metadata/index-rows.js';
import type { ShardStore } from '../shard-store.js';
import type { NodeWorkerDeps, StepResult, Worker, WorkerStatus } from './worker.js';

/** Index rows one step reads. */
const SCAN_ROWS_PER_STEP = 4_096;

/** What the resolver reads and writes of its node's store. */
type ResolverStore = Pick<ShardStore, 'indexRows' | 'objectStatus' | 'bucketRecord'>;

/** Construction parameters of an intent resolver. */
export interface IntentResolverOptions extends Omit<NodeWorkerDeps<ResolverStore>, 'figures'> {
  /** Time allowed for one peer's answer. */
  peerTimeoutMs?: number;
}

/**
 * Resolves this replica's bucket index intents of writes that can no longer commit (docs/bucket-index.md):
 * their deadline passed because a gateway stopped between a write's commit and its settle, or this
 * replica missed the settle. Until then a listing reads such a key from its own nodes, and a change
 * whose settle was lost is recorded nowhere else.
 *
 * For each such key the resolver notes the entries this replica holds, reads the key's current version
 * from every member of its set, then in one batch drops the expired intents, records the current version,
 * and marks each noted entry newer than it as deleted by id: it was settled before the read, so its
 * version had committed, and no member holds it any more. A key whose set is not whole (a member does
 * not answer) or moves in a ring change waits for a later pass, as do rows of a deleted bucket.
 */
export class IntentResolver implements Worker {
  readonly name = 'index-intents';
  private readonly options: IntentResolverOptions;
  private readonly clock: () => number;
  private after: string | null = null;
  private readonly figures = { passes: 0, resolvedKeys: 0, waitingKeys: 0 };

  constructor(options: IntentResolverOptions) {
    this.options = options;
    this.clock = options.clock ?? Date.now;
  }

  resume(cursor: string | null): void {
    this.after = cursor;
  }

  status(): WorkerStatus {
    return { ...this.figures };
  }

  async step(signal: AbortSignal): Promise<StepResult> {
    const page = await this.options.store.indexRows.expiredIntents(this.after, this.clock(), SCAN_ROWS_PER_STEP);
    for (const expired of page.keys) {
      signal.throwIfAborted();
      if (await this.resolve(expired, signal)) this.figures.resolvedKeys += 1;
      else this.figures.waitingKeys += 1;
    }
    this.after = page.next;
    if (page.next === null) this.figures.passes += 1;
    return { items: page.keys.length, bytes: 0, cursor: page.next, idle: page.next === null };
  }

  /** Resolves one key's expired intents; false when the key must wait for a later pass. */
  private async resolve(expired: ExpiredIntents, signal: AbortSignal): Promise<boolean> {
    const { store, rings } = this.options;
    // Rows of the uploads bucket belong to the uploads index of the user bucket their key names.
    const owner = indexOwnerOf(expired.bucket, expired.key);
    const bucket = indexOfRow(owner === undefined ? undefined : await store.bucketRecord(owner), expired.bucket);
    if (bucket === undefined || bucket.createdMs !== expired.incarnation) return false;
    const locator = rings.locator;
    if (locator === undefined || rings.previousLocator !== undefined) return false;
    const held = await store.indexRows.keyEntries(expired.bucket, expired.incarnation, expired.key);
    const current = await this.currentOnWholeSet(locator.locate(expired.bucket, expired.key).nodes, expired, signal);
    if (current === undefined) return false;
    const scope = { op: 'settle' as const, bucket: expired.bucket, incarnation: expired.incarnation, key: expired.key };
    const ops: IndexOp[] = expired.intents.map((intent) => ({ ...scope, intent }));
    if (current !== null) ops.push({ ...scope, entry: indexEntryOf(current) });
    for (const entry of held) {
      if (current === null || compareVersionIds(entry.versionId, current.versionId) > 0) ops.push({ ...scope, gone: entry.versionId, ...(entry.isNull ? { replaces: true } : {}) });
    }
    await store.indexRows.apply(ops);
    return true;
  }

  /** The key's newest record among every member's current one (null: none holds any); undefined unless every member answered. */
  private async currentOnWholeSet(set: readonly RingNode[], expired: ExpiredIntents, signal: AbortSignal): Promise<ObjectRecord | null | undefined> {
    const { nodeId, store, peers } = this.options;
    const asked = AbortSignal.any([signal, AbortSignal.timeout(this.options.peerTimeoutMs ?? DEFAULTS.gcPeerTimeoutMs)]);
    const outcomes = await fanOut(set, async (node) =>
      node.id === nodeId
        ? ((await store.objectStatus(expired.bucket, expired.key))?.record ?? null)
        : ((await peers.get(node).objectStatus(expired.bucket, expired.key, { signal: asked }))?.record ?? null),
    );
    signal.throwIfAborted();
    if (!outcomes.every((outcome) => outcome.ok)) return undefined;
    return newestRecord(outcomes.map((outcome) => (outcome.ok ? outcome.value : null))) ?? null;
  }
}
