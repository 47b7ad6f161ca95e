import { ChangeOfferRequest, ChangesDoneRequest, NODE_PATHS, ReplicationStatusRequest, type ChangeOfferResponse, type ChangesDoneResponse } from '../../rpc/index.js';
import { withBody, type NodeRoute } from '../node-server/node-route.js';

/**
 * The signed node routes of change delivery between the members of a key's set (change-delivery.ts):
 * a member's offer of its copies to the leader, and the leader's word that changes were delivered
 * (with how their replication ended, which members write to the versions they hold). Both bodies are
 * bounded by their schemas (MAX_OFFERED_CHANGES, MAX_DONE_IDS). Beside them, a resync's setting of one
 * version's replication status (`tessera admin replicate resync`).
 */
export const CHANGE_ROUTES: readonly NodeRoute[] = [
  withBody({
    method: 'POST',
    path: NODE_PATHS.changeOffer,
    body: ChangeOfferRequest,
    handler: async (node, { changes }): Promise<ChangeOfferResponse> => {
      const answers: ChangeOfferResponse['answers'] = [];
      // One at a time: each may log a change, and the log numbers its rows in the order they arrive.
      for (const { bucket, key, note } of changes) answers.push(await node.store.offerChange(bucket, key, note));
      return { answers };
    },
  }),
  withBody({
    method: 'POST',
    path: NODE_PATHS.changesDone,
    body: ChangesDoneRequest,
    handler: async (node, { ids, outcomes }): Promise<ChangesDoneResponse> => {
      // Before the copies go: the log names the version each change is about.
      if (outcomes !== undefined) await node.store.settleReplication(outcomes);
      return { removed: await node.store.changes.done(ids) };
    },
  }),
  withBody({
    method: 'POST',
    path: NODE_PATHS.replicationStatus,
    body: ReplicationStatusRequest,
    handler: async (node, request) => {
      await node.store.setReplicationStatus(request);
      return {};
    },
  }),
];
