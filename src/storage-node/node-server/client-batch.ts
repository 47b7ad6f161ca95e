import type { Static } from 'typebox';
import type { BatchRequest } from '../../rpc/index.js';

/** Whether a batch is client traffic: anything but partition digests (a batch of those is a peer's audit). */
export function isClientBatch(batch: Static<typeof BatchRequest>): boolean {
  return !batch.calls.every(isDigestCall);
}

/** Whether a batch call (not yet checked) asks for a partition digest. */
export function isDigestCall(call: unknown): boolean {
  return typeof call === 'object' && call !== null && (call as { op?: unknown }).op === 'digest';
}
