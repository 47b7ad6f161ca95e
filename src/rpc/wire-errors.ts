import { TesseraError } from '../common/index.js';

/** The closed set of failures a node can report, or the client can observe talking to one. */
export const WIRE_ERROR_STATUS = {
  BadRequest: 400,
  Unauthorized: 401,
  NotFound: 404,
  Conflict: 409,
  /** The bucket a write names is deleted, or was created again since the write's bucket record. */
  Gone: 410,
  ChecksumMismatch: 422,
  Internal: 500,
  Unavailable: 503,
  InsufficientStorage: 507,
} as const;

/** A wire error code; storage codes never reach S3 clients, the gateway maps them. */
export type WireErrorCode = keyof typeof WIRE_ERROR_STATUS;

/** A failure of the node protocol: what a node answers with (its server throws these), carrying a wire code. */
export class WireError extends TesseraError<WireErrorCode> {}

/** A failed node request as the client sees it: what failed, on which node. */
export class NodeError extends WireError {
  readonly nodeId: string;

  constructor(code: WireErrorCode, nodeId: string, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.nodeId = nodeId;
  }
}

/** Maps an HTTP status from a node to its wire error code. */
export function wireCodeForStatus(status: number): WireErrorCode {
  for (const [code, codeStatus] of Object.entries(WIRE_ERROR_STATUS)) {
    if (codeStatus === status) return code as WireErrorCode;
  }
  return status >= 500 ? 'Internal' : 'BadRequest';
}

/** Type guard for wire error codes arriving in a node's JSON error body. */
export function isWireErrorCode(value: unknown): value is WireErrorCode {
  return typeof value === 'string' && Object.hasOwn(WIRE_ERROR_STATUS, value);
}
