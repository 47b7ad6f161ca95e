// How internal failures reach a client, beside the table of the codes they become (errors.ts): a lost
// quorum as 503 ServiceUnavailable, anything else that is not already an S3Error as 500 InternalError.
import { TesseraError, hasCode } from '../../common/index.js';
import type { NodeFailure } from '../../rpc/index.js';
import { S3Error } from './errors.js';

/**
 * A lost quorum (too few nodes answered a write, commit, read or metadata round) as S3's 503: the
 * client may retry; which node failed how stays in the cause, for the log. The cause's code says
 * whether some node ran out of time (`QuorumTimedOut`: the round may succeed when tried again on a
 * busy machine) or every failure was a refusal or an error (`QuorumLost`). A commit into `bucket` that
 * a node refused because it holds the bucket as deleted, or created again since, is NoSuchBucket.
 */
export function quorumError(phase: string, failures: readonly NodeFailure[], bucket?: string): S3Error {
  // A node that holds the bucket as deleted, or created again since (Gone), knows: the write was for no live bucket.
  if (bucket !== undefined && failures.some((f) => f.code === 'Gone')) return new S3Error('NoSuchBucket', { fields: { BucketName: bucket } });
  const detail = failures.map((f) => `${f.nodeId}: ${f.reason}`).join('; ');
  const code = failures.some((f) => f.timedOut === true) ? 'QuorumTimedOut' : 'QuorumLost';
  return new S3Error('ServiceUnavailable', {
    message: 'Not enough storage nodes answered; please retry.',
    cause: new TesseraError(code, `${phase} quorum not met (${detail})`),
  });
}

/** Whether `err` is a quorum lost because some nodes answered too slowly (see quorumError). */
export function isSlowQuorumLoss(err: unknown): boolean {
  return err instanceof S3Error && err.code === 'ServiceUnavailable' && hasCode(err.cause, 'QuorumTimedOut');
}

/**
 * Any error as the S3 error to answer with: an S3Error as it is, a request target Fastify could not
 * route as InvalidArgument, anything else as InternalError (its cause is logged, never sent).
 */
export function toS3Error(err: unknown): S3Error {
  if (err instanceof S3Error) return err;
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'FST_ERR_BAD_URL' || code === 'FST_ERR_ASYNC_CONSTRAINT') {
    return new S3Error('InvalidArgument', { message: 'The request target is not valid.' });
  }
  return new S3Error('InternalError', { cause: err });
}
