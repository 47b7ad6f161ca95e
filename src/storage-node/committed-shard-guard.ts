import type { ShardRef } from '../rpc/index.js';
import { ShardStoreError } from './shard-store-error.js';

/** What the guard needs from its store. */
export interface CommittedShardGuardOptions {
  /** Runs `work` under the lock of the shard's key: the one every commit of that key holds. */
  underKeyLock<T>(ref: ShardRef, work: () => Promise<T>): Promise<T>;
  /** Whether a committed version, current or noncurrent, names this shard. */
  isCommitted(ref: ShardRef): Promise<boolean>;
  /** Whether this node found the shard unreadable and quarantined it for repair. */
  isQuarantined(ref: ShardRef): Promise<boolean>;
}

/** What a prepare may do with the shard it was sent: store it, or keep the committed one and store nothing. */
export type PrepareDecision = 'store' | 'keep';

/**
 * Decides whether a prepare may make its bytes the ones a shard reference names, so that no request,
 * whatever it says, replaces the shard a committed version names. A file shard is renamed over its
 * name, an inline image is written over its row, and a prepared row is what a later commit of the
 * version adopts: each would change what reads of a committed version return.
 *
 * The rule, for a shard a committed version names:
 * - a prepare marked fresh (a client write, which claims it took a new data id) is refused with
 *   Conflict: no gateway sends one for a shard already committed, so it is a replay or a bug;
 * - any other prepare (a retry, a repair, a rebalance move) stores nothing and succeeds, as a repeat
 *   of what the node holds; except
 * - when this node has itself quarantined the shard (a checksum failure or a missing file it found on
 *   a read or a scrub), a prepare that is not marked fresh replaces it: that is how repair rebuilds a
 *   bad shard, and its commit (`repair`) clears the quarantine. Only the node's own finding opens the
 *   way, never a flag a request carries; the bytes that replace it are checksummed by this node as
 *   they arrive, as every prepare's are.
 * A shard no committed version names is stored whatever it says (a retried prepare before its commit
 * replaces the earlier one).
 *
 * Every prepare asks, fresh or not, so the question must be cheap where the answer is no, and it is
 * answered exactly, never from what the request claims. A version holds a shard only if its id, taken
 * at its commit, is no older than the data id the shard was prepared under (the store's look reads the
 * key's versions from that id on); and the key's committed row is always its newest version (an older
 * commit is kept as noncurrent or dropped, deleting the current version promotes the next newest, and
 * the row goes only with the last version). So when the key has no committed row, or a row older than
 * the data id that names another shard, no version can hold the shard, and `isCommitted` answers from
 * that one row, which the row cache usually holds, without reading the key's versions: the answer the
 * longer read would give. A client write's data id is newer than every version of its key when it is
 * taken, so its prepares read further only when another write of the key committed in between, or when
 * the prepare is a replay of a committed one.
 */
export class CommittedShardGuard {
  private readonly options: CommittedShardGuardOptions;

  constructor(options: CommittedShardGuardOptions) {
    this.options = options;
  }

  /** What the rule says for a prepare of `ref` now; throws Conflict for a fresh one of a committed shard. Unlocked: a hint until install(). */
  async decide(ref: ShardRef, fresh: boolean): Promise<PrepareDecision> {
    if (!(await this.options.isCommitted(ref))) return 'store';
    if (fresh) throw new ShardStoreError('Conflict', 'a fresh prepare names a shard a committed version holds');
    return (await this.options.isQuarantined(ref)) ? 'store' : 'keep';
  }

  /**
   * Runs `install` (the step that makes the prepared bytes the ones `ref` names: the rename, the image or
   * the prepared row) when the rule lets it, under the key's lock, so no commit lands between the decision
   * and the install. Returns false when it kept the committed shard and ran nothing.
   */
  async install(ref: ShardRef, fresh: boolean, install: () => Promise<void>): Promise<boolean> {
    return this.options.underKeyLock(ref, async () => {
      if ((await this.decide(ref, fresh)) === 'keep') return false;
      await install();
      return true;
    });
  }
}
