/**
 * One request's record, in S3's server access log format: 26 fields separated by spaces, "-" for a
 * field that does not apply, the time in brackets, and the request line, referrer and user agent in
 * double quotes (docs/access-logs.md). Pure: the HTTP layer gathers the values.
 */
export interface AccessLogFields {
  bucketOwnerId: string;
  bucket: string;
  timeMs: number;
  remoteIp: string;
  /** The requester's canonical id; undefined: anonymous. */
  requesterId: string | undefined;
  requestId: string;
  /** S3's name for the operation: `REST.GET.OBJECT`, ... (logOperationName). */
  operation: string;
  key: string | undefined;
  /** `METHOD URI HTTP/version`, as the request line had it. */
  requestLine: string;
  status: number;
  errorCode: string | undefined;
  bytesSent: number;
  objectSizeBytes: number | undefined;
  totalTimeMs: number;
  turnAroundTimeMs: number | undefined;
  referrer: string | undefined;
  userAgent: string | undefined;
  versionId: string | undefined;
  hostId: string;
  signatureVersion: 'SigV2' | 'SigV4' | undefined;
  cipherSuite: string | undefined;
  authType: 'AuthHeader' | 'QueryString' | undefined;
  hostHeader: string | undefined;
  tlsVersion: string | undefined;
  /** Yes when the request was allowed by an ACL rather than a policy or ownership. */
  aclRequired: boolean;
}

/** How many space-separated fields a line has, counting the bracketed time and each quoted field as one. */
export const LOG_FIELD_COUNT = 26;

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'] as const;

/** S3's log time: `[06/Feb/2019:00:00:38 +0000]`, always UTC. */
export function logTime(ms: number): string {
  const d = new Date(ms);
  const two = (n: number): string => String(n).padStart(2, '0');
  return `[${two(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} +0000]`;
}

/**
 * A bare field: "-" when absent or empty. A value with a space, quote, backslash or control
 * character has those percent-encoded, so a client's text can never add a field or a line.
 */
function bare(value: string | number | undefined): string {
  if (value === undefined || value === '') return '-';
  return escapeText(String(value), true);
}

/** A quoted field: `"-"` when absent; inside, quotes, backslashes and controls are percent-encoded. */
function quoted(value: string | undefined): string {
  return `"${value === undefined || value === '' ? '-' : escapeText(value, false)}"`;
}

function escapeText(text: string, spaces: boolean): string {
  let out = '';
  for (const ch of text) {
    const code = ch.codePointAt(0) as number;
    if (code < 0x20 || code === 0x7f || ch === '"' || ch === '\\' || (spaces && ch === ' ')) {
      out += `%${code.toString(16).toUpperCase().padStart(2, '0')}`;
    } else {
      out += ch;
    }
  }
  return out;
}

/**
 * The key as S3 logs it: URL-encoded (UTF-8, `/` kept), so any key fits one bare field.
 */
export function logKey(key: string): string {
  return encodeURIComponent(key).replace(/%2F/g, '/');
}

/** The record's line, without its line end. */
export function formatLogLine(f: AccessLogFields): string {
  return [
    bare(f.bucketOwnerId),
    bare(f.bucket),
    logTime(f.timeMs),
    bare(f.remoteIp),
    bare(f.requesterId),
    bare(f.requestId),
    bare(f.operation),
    f.key === undefined ? '-' : bare(logKey(f.key)),
    quoted(f.requestLine),
    String(f.status),
    bare(f.errorCode),
    f.bytesSent > 0 ? String(f.bytesSent) : '-',
    bare(f.objectSizeBytes),
    String(Math.max(0, Math.round(f.totalTimeMs))),
    f.turnAroundTimeMs === undefined ? '-' : String(Math.max(0, Math.round(f.turnAroundTimeMs))),
    quoted(f.referrer),
    quoted(f.userAgent),
    bare(f.versionId),
    bare(f.hostId),
    bare(f.signatureVersion),
    bare(f.cipherSuite),
    bare(f.authType),
    bare(f.hostHeader),
    bare(f.tlsVersion),
    '-',
    f.aclRequired ? 'Yes' : '-',
  ].join(' ');
}

/**
 * Splits a line into its fields, as a reader of S3's logs does: a bracketed or quoted field is one
 * field. For tests and tools; the inverse of formatLogLine up to escaping.
 */
export function splitLogLine(line: string): string[] {
  const fields: string[] = [];
  let i = 0;
  while (i < line.length) {
    if (line[i] === ' ') {
      i += 1;
      continue;
    }
    const close = line[i] === '[' ? ']' : line[i] === '"' ? '"' : ' ';
    const start = close === ' ' ? i : i + 1;
    let end = line.indexOf(close, start);
    if (end === -1) end = line.length;
    fields.push(line.slice(start, end));
    i = close === ' ' ? end : end + 1;
  }
  return fields;
}

/** Query parameters whose values are credentials of a presigned URL: never written to a log object. */
const CREDENTIAL_PARAMETERS = new Set(['x-amz-signature', 'signature', 'x-amz-security-token']);

/**
 * A request target as a log line shows it: the values of a presigned URL's signature and session
 * token replaced by `REDACTED`, so the log's readers cannot replay the URL while it is valid.
 */
export function redactedTarget(target: string): string {
  const mark = target.indexOf('?');
  if (mark === -1) return target;
  const parameters = target.slice(mark + 1).split('&').map((parameter) => {
    const eq = parameter.indexOf('=');
    const name = eq === -1 ? parameter : parameter.slice(0, eq);
    return eq !== -1 && CREDENTIAL_PARAMETERS.has(name.toLowerCase()) ? `${name}=REDACTED` : parameter;
  });
  return `${target.slice(0, mark)}?${parameters.join('&')}`;
}

/** S3's names for the operations in its logs, by Tessera's operation name; others are built from the method. */
const LOG_OPERATIONS: Readonly<Record<string, string>> = {
  ListBuckets: 'REST.GET.SERVICE',
  GetBucketLocation: 'REST.GET.LOCATION',
  GetBucketVersioning: 'REST.GET.VERSIONING',
  PutBucketVersioning: 'REST.PUT.VERSIONING',
  GetObjectLockConfiguration: 'REST.GET.OBJECT_LOCK_CONFIGURATION',
  PutObjectLockConfiguration: 'REST.PUT.OBJECT_LOCK_CONFIGURATION',
  ListObjectVersions: 'REST.GET.BUCKETVERSIONS',
  DeleteObjects: 'REST.POST.MULTI_OBJECT_DELETE',
  GetBucketCors: 'REST.GET.CORS',
  PutBucketCors: 'REST.PUT.CORS',
  DeleteBucketCors: 'REST.DELETE.CORS',
  GetBucketEncryption: 'REST.GET.ENCRYPTION',
  PutBucketEncryption: 'REST.PUT.ENCRYPTION',
  DeleteBucketEncryption: 'REST.DELETE.ENCRYPTION',
  GetBucketAcl: 'REST.GET.ACL',
  PutBucketAcl: 'REST.PUT.ACL',
  GetBucketOwnershipControls: 'REST.GET.OWNERSHIP_CONTROLS',
  PutBucketOwnershipControls: 'REST.PUT.OWNERSHIP_CONTROLS',
  DeleteBucketOwnershipControls: 'REST.DELETE.OWNERSHIP_CONTROLS',
  GetBucketPolicy: 'REST.GET.BUCKETPOLICY',
  PutBucketPolicy: 'REST.PUT.BUCKETPOLICY',
  DeleteBucketPolicy: 'REST.DELETE.BUCKETPOLICY',
  GetBucketPolicyStatus: 'REST.GET.POLICY_STATUS',
  GetPublicAccessBlock: 'REST.GET.PUBLIC_ACCESS_BLOCK',
  PutPublicAccessBlock: 'REST.PUT.PUBLIC_ACCESS_BLOCK',
  DeletePublicAccessBlock: 'REST.DELETE.PUBLIC_ACCESS_BLOCK',
  GetBucketTagging: 'REST.GET.TAGGING',
  PutBucketTagging: 'REST.PUT.TAGGING',
  DeleteBucketTagging: 'REST.DELETE.TAGGING',
  GetBucketLifecycleConfiguration: 'REST.GET.LIFECYCLE',
  PutBucketLifecycleConfiguration: 'REST.PUT.LIFECYCLE',
  DeleteBucketLifecycle: 'REST.DELETE.LIFECYCLE',
  GetBucketNotificationConfiguration: 'REST.GET.NOTIFICATION',
  PutBucketNotificationConfiguration: 'REST.PUT.NOTIFICATION',
  GetBucketLogging: 'REST.GET.LOGGING_STATUS',
  PutBucketLogging: 'REST.PUT.LOGGING_STATUS',
  GetBucketReplication: 'REST.GET.REPLICATION',
  PutBucketReplication: 'REST.PUT.REPLICATION',
  DeleteBucketReplication: 'REST.DELETE.REPLICATION',
  ListMultipartUploads: 'REST.GET.UPLOADS',
  CreateMultipartUpload: 'REST.POST.UPLOADS',
  UploadPartCopy: 'REST.COPY.PART',
  UploadPart: 'REST.PUT.PART',
  CompleteMultipartUpload: 'REST.POST.UPLOAD',
  AbortMultipartUpload: 'REST.DELETE.UPLOAD',
  ListParts: 'REST.GET.UPLOAD',
  GetObjectTagging: 'REST.GET.OBJECT_TAGGING',
  PutObjectTagging: 'REST.PUT.OBJECT_TAGGING',
  DeleteObjectTagging: 'REST.DELETE.OBJECT_TAGGING',
  GetObjectRetention: 'REST.GET.RETENTION',
  PutObjectRetention: 'REST.PUT.RETENTION',
  GetObjectLegalHold: 'REST.GET.LEGAL_HOLD',
  PutObjectLegalHold: 'REST.PUT.LEGAL_HOLD',
  GetObjectAttributes: 'REST.GET.OBJECT_ATTRIBUTES',
  GetObjectAcl: 'REST.GET.ACL',
  PutObjectAcl: 'REST.PUT.ACL',
  CreateBucket: 'REST.PUT.BUCKET',
  HeadBucket: 'REST.HEAD.BUCKET',
  DeleteBucket: 'REST.DELETE.BUCKET',
  ListObjects: 'REST.GET.BUCKET',
  CopyObject: 'REST.COPY.OBJECT',
  PostObject: 'REST.POST.OBJECT',
  PutObject: 'REST.PUT.OBJECT',
  GetObject: 'REST.GET.OBJECT',
  HeadObject: 'REST.HEAD.OBJECT',
  DeleteObject: 'REST.DELETE.OBJECT',
};

/**
 * S3's operation name for a log line. A request refused before its operation was known (a bad
 * signature) is named by its method and whether it named a key, as S3 names it.
 */
export function logOperationName(operation: string, method: string, hasKey: boolean): string {
  return LOG_OPERATIONS[operation] ?? `REST.${method}.${hasKey ? 'OBJECT' : 'BUCKET'}`;
}
