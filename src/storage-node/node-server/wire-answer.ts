import { WireError, type WireErrorCode } from '../../rpc/index.js';
import { ShardStoreError } from '../shard-store-error.js';

/** The one mapping of node failures onto the wire: protocol errors as they are, storage errors by their table. */
export function wireCodeOf(err: unknown): WireErrorCode {
  if (err instanceof WireError) return err.code;
  if (err instanceof ShardStoreError) return err.wireCode;
  return 'Internal';
}

/** A failure as the node answers it: its wire code, and its message unless it is the node's own fault. */
export function wireAnswerOf(err: unknown): { code: WireErrorCode; message: string } {
  const code = wireCodeOf(err);
  return { code, message: code === 'Internal' ? 'internal error' : (err as Error).message };
}
