import { decideQuorum, fanOut, writeQuorum, type ObjectRecord, type TagUpdateRequest } from '../../../rpc/index.js';
import { acquireKeyLease, metadataSignal, noteOf, shownVersionId, type PendingChange, type RecordWriteDeps, type ResolvedVersion } from '../../data-path/index.js';
import type { RequestContext } from '../../http/index.js';
import { quorumError } from '../../s3/index.js';

/** What an in-place change sets on a version: its tags, its ACL grants, its Object Lock retention or legal hold. */
export type InPlaceChange = Partial<Pick<TagUpdateRequest, 'tags' | 'grants' | 'retention' | 'legalHold'>>;

/**
 * Changes a version's tags, ACL or Object Lock in place on its nodes: no data is rewritten, and among
 * copies of one version the newest revision wins. Tags, grants, retention and legal hold share that one
 * revision, so every change is made the same way, under the key's exclusive lease (as conditional writes
 * are): `read` finds the version as the last change left it, `decide` checks it and says what changes,
 * and the update carries the version's whole in-place state with that change. Without the lease two
 * changes read the same state and the later revision wins with the other's field as it was: a PutObjectTagging
 * beside a retention change dropped one of them, and two retention changes checked alone could shorten
 * COMPLIANCE retention. Without the whole state, a node that received the previous change late (and then
 * ignores it as older) would hold the new revision with the old value of the field it did not change.
 * `what` names the change in a quorum error. `changeFor`: the event the update of the version found is
 * (a tagging one), when the bucket's notification configurations or replication rules select it; its
 * note goes with the update, ordered by its revision.
 * Returns what `read` found.
 */
export async function updateInPlace<T extends { version: ResolvedVersion }>(
  ctx: RequestContext<RecordWriteDeps>,
  bucket: string,
  key: string,
  what: string,
  read: () => Promise<T>,
  decide: (target: T) => InPlaceChange,
  changeFor?: (record: ObjectRecord) => PendingChange | undefined,
): Promise<T> {
  const { services } = ctx;
  const lease = await acquireKeyLease(ctx, bucket, key);
  try {
    const target = await read();
    const updated = decide(target);
    const { versionId, tags, tagsRevision, grants, retention, legalHold } = target.version.record;
    // The last change may come from a gateway whose clock runs ahead: this one must still take a later revision, or nodes ignore it.
    if (tagsRevision !== undefined) services.clock.observe(tagsRevision);
    const revision = services.clock.next();
    const { record } = target.version;
    const change = changeFor?.(record);
    const note = change === undefined ? undefined : noteOf(change, { timeMs: services.clock.nowMs(), orderId: revision, versionId: shownVersionId(record), etag: record.etag });
    const request: TagUpdateRequest = {
      bucket,
      key,
      versionId,
      tags: tags ?? {},
      retention: retention ?? null,
      ...(grants === undefined ? {} : { grants }),
      ...(legalHold === undefined ? {} : { legalHold }),
      ...updated,
      tagsRevision: revision,
      ...(note === undefined ? {} : { change: note }),
    };
    const signal = metadataSignal(ctx);
    const outcomes = await fanOut(services.cluster.nodesFor(bucket, key), (node) => node.updateTags(request, { signal }));
    // Fewer acknowledgements mean nodes are down or too slow: retryable.
    const decision = decideQuorum(outcomes, writeQuorum(services.erasure.dataShards, services.erasure.parityShards));
    if (!decision.met) throw quorumError(what, decision.failures);
    return target;
  } finally {
    await lease.release();
  }
}
