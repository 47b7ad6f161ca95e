import { TesseraError } from '../../common/index.js';
import { parseXml } from '../s3/index.js';

/** Codes a remote S3 store answers that are worth another try whatever their status. */
const RETRYABLE_CODES: ReadonlySet<string> = new Set(['SlowDown', 'ServiceUnavailable', 'InternalError', 'RequestTimeout', 'RequestTimeTooSkewed']);

/** The code an answer without an error document (HEAD, or an unreadable body) stands for. */
const STATUS_CODES: Readonly<Record<number, string>> = {
  400: 'BadRequest',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  408: 'RequestTimeout',
  409: 'Conflict',
  411: 'MissingContentLength',
  412: 'PreconditionFailed',
  429: 'TooManyRequests',
  500: 'InternalError',
  501: 'NotImplemented',
  503: 'ServiceUnavailable',
};

/** Longest remote message kept: an error document is hostile text, it goes into logs. */
const MAX_MESSAGE_CHARS = 512;

/**
 * Whether a failure is worth another try: no answer at all (status 0: network errors, timeouts),
 * 5xx, 408, 429, and S3's codes for a busy or slow service. Everything else (AccessDenied,
 * NoSuchBucket, InvalidRequest...) would fail the same way again.
 */
export function isRetryable(status: number, code: string): boolean {
  return status === 0 || status >= 500 || status === 408 || status === 429 || RETRYABLE_CODES.has(code);
}

/**
 * A request to a remote S3 store that did not succeed: the HTTP status (0 when none came), S3's error
 * code (or a local one such as NetworkError, Timeout, BodyLengthMismatch) and whether a later try may
 * succeed. Messages never hold credentials or signatures.
 */
export class RemoteError extends TesseraError {
  readonly status: number;
  readonly retryable: boolean;

  constructor(details: { status: number; code: string; message: string; retryable?: boolean }, options?: { cause?: unknown }) {
    super(details.code, details.message, options);
    this.status = details.status;
    this.retryable = details.retryable ?? isRetryable(details.status, details.code);
  }
}

/** Text of one element of a parsed document, if it is text. */
function text(fields: Record<string, unknown>, name: string): string | undefined {
  const value = fields[name];
  return typeof value === 'string' ? value : undefined;
}

/**
 * The `<Error>` document of an S3 answer (code and message), or undefined when `body` is not one:
 * empty, truncated, malformed or of another root.
 */
export function parseErrorDocument(body: string): { code: string; message: string } | undefined {
  if (body === '') return undefined;
  let document: Record<string, unknown>;
  try {
    document = parseXml(body);
  } catch {
    return undefined;
  }
  const error = document['Error'];
  if (typeof error !== 'object' || error === null || Array.isArray(error)) return undefined;
  const code = text(error as Record<string, unknown>, 'Code');
  if (code === undefined || code === '') return undefined;
  return { code: code.slice(0, 128), message: (text(error as Record<string, unknown>, 'Message') ?? '').slice(0, MAX_MESSAGE_CHARS) };
}

/** The RemoteError of a non-2xx answer (or of a 200 carrying an `<Error>` document, as CompleteMultipartUpload may). */
export function errorOfAnswer(status: number, body: string, what: string): RemoteError {
  const parsed = parseErrorDocument(body);
  const code = parsed?.code ?? STATUS_CODES[status] ?? `Http${status}`;
  const detail = parsed?.message === undefined || parsed.message === '' ? '' : `: ${parsed.message}`;
  // A 200 whose body is an error (a CompleteMultipartUpload failing late) is retryable by its code alone.
  return new RemoteError({ status, code, message: `${what} answered ${status} ${code}${detail}` });
}
