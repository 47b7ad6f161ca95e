import { decideQuorum, fanOut, writeQuorum, type TagUpdateRequest } from '../../rpc/index.js';
import type { Grant } from '../access/index.js';
import { metadataSignal, type ResolvedVersion } from '../data-path/index.js';
import type { RequestContext } from '../http/index.js';
import { quorumError } from '../s3/index.js';

/**
 * Replaces the ACL of one version of an object in place, through the same revisioned update as
 * its tags (the version's tags travel unchanged): no data is rewritten, and among copies of one
 * version the newest revision wins.
 */
export async function updateObjectAcl(ctx: RequestContext, version: ResolvedVersion, grants: Grant[]): Promise<void> {
  const { services } = ctx;
  const { bucket, key, versionId, tags } = version.record;
  const request: TagUpdateRequest = { bucket, key, versionId, tags: tags ?? {}, tagsRevision: services.clock.next(), grants };
  const signal = metadataSignal(ctx);
  const outcomes = await fanOut(services.cluster.nodesFor(bucket, key), (node) => node.updateTags(request, { signal }));
  const decision = decideQuorum(outcomes, writeQuorum(services.erasure.dataShards, services.erasure.parityShards));
  if (!decision.met) throw quorumError('ACL update', decision.failures);
}
