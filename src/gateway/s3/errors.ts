import { TesseraError } from '../../common/index.js';

/**
 * Every S3 error Tessera can answer with: code -> HTTP status and the message S3 itself uses.
 * The table is the single source; a test checks each entry has a valid status and a description.
 */
export const S3_ERRORS = {
  AccessControlListNotSupported: { status: 400, message: 'The bucket does not allow ACLs' },
  AccessDenied: { status: 403, message: 'Access Denied' },
  // S3's answer to a CORS preflight it refuses: the message says why, after `CORSResponse: `.
  AccessForbidden: { status: 403, message: 'CORSResponse: CORS is not enabled for this bucket.' },
  AuthorizationHeaderMalformed: { status: 400, message: 'The authorization header is malformed.' },
  AuthorizationQueryParametersError: { status: 400, message: 'Error parsing the X-Amz-Credential parameter.' },
  BadDigest: { status: 400, message: 'The Content-MD5 or checksum you specified did not match what we received.' },
  BadRequest: { status: 400, message: 'Bad Request' },
  BucketAlreadyExists: { status: 409, message: 'The requested bucket name is not available.' },
  BucketAlreadyOwnedByYou: { status: 409, message: 'Your previous request to create the named bucket succeeded and you already own it.' },
  BucketNotEmpty: { status: 409, message: 'The bucket you tried to delete is not empty.' },
  EntityTooLarge: { status: 400, message: 'Your proposed upload exceeds the maximum allowed object size.' },
  EntityTooSmall: { status: 400, message: 'Your proposed upload is smaller than the minimum allowed object size.' },
  ExpiredToken: { status: 400, message: 'The provided token has expired.' },
  RequestHeaderSectionTooLarge: { status: 400, message: 'Your request header section exceeds the maximum allowed size.' },
  IllegalVersioningConfigurationException: { status: 400, message: 'The versioning configuration specified in the request is invalid.' },
  IncompleteBody: { status: 400, message: 'You did not provide the number of bytes specified by the Content-Length HTTP header.' },
  InternalError: { status: 500, message: 'We encountered an internal error. Please try again.' },
  InvalidAccessKeyId: { status: 403, message: 'The AWS access key Id you provided does not exist in our records.' },
  InvalidArgument: { status: 400, message: 'Invalid Argument' },
  InvalidBucketAclWithObjectOwnership: { status: 400, message: 'Bucket cannot have ACLs set with ObjectOwnership\'s BucketOwnerEnforced setting' },
  InvalidBucketState: { status: 409, message: 'The request is not valid with the current state of the bucket.' },
  InvalidBucketName: { status: 400, message: 'The specified bucket is not valid.' },
  InvalidEncryptionAlgorithmError: { status: 400, message: 'The encryption request you specified is not valid. Supported value: AES256.' },
  InvalidDigest: { status: 400, message: 'The Content-MD5 or checksum you specified is not valid.' },
  InvalidPolicyDocument: { status: 400, message: 'The content of the form does not meet the conditions specified in the policy document.' },
  InvalidPart: { status: 400, message: "One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not match the part's entity tag." },
  InvalidPartOrder: { status: 400, message: 'The list of parts was not in ascending order. Parts must be ordered by part number.' },
  InvalidURI: { status: 400, message: 'Couldn\'t parse the specified URI.' },
  InvalidRange: { status: 416, message: 'The requested range is not satisfiable' },
  InvalidRequest: { status: 400, message: 'Invalid Request' },
  InvalidRetentionPeriod: { status: 400, message: 'The retention period specified is not valid.' },
  InvalidTargetBucketForLogging: { status: 400, message: 'The target bucket for logging does not exist' },
  InvalidTag: { status: 400, message: 'The tag provided was not a valid tag.' },
  KeyTooLongError: { status: 400, message: 'Your key is too long.' },
  // S3 passes KMS's own errors through under a `KMS.` prefix.
  'KMS.DisabledException': { status: 400, message: 'The KMS key is disabled.' },
  'KMS.NotFoundException': { status: 400, message: 'The KMS key does not exist.' },
  MalformedTrailerError: { status: 400, message: 'The request contained trailing data that was not well-formed or did not conform to our published schema.' },
  MalformedXML: { status: 400, message: 'The XML you provided was not well-formed or did not validate against our published schema.' },
  MalformedPOSTRequest: { status: 400, message: 'The body of your POST request is not well-formed multipart/form-data.' },
  MaxPostPreDataLengthExceededError: { status: 400, message: 'Your POST request fields preceding the upload file were too large.' },
  MetadataTooLarge: { status: 400, message: 'Your metadata headers exceed the maximum allowed metadata size.' },
  MethodNotAllowed: { status: 405, message: 'The specified method is not allowed against this resource.' },
  MissingContentLength: { status: 411, message: 'You must provide the Content-Length HTTP header.' },
  MissingSecurityHeader: { status: 400, message: 'Your request is missing a required header.' },
  NoSuchBucket: { status: 404, message: 'The specified bucket does not exist.' },
  NoSuchBucketPolicy: { status: 404, message: 'The bucket policy does not exist' },
  NoSuchCORSConfiguration: { status: 404, message: 'The CORS configuration does not exist' },
  NoSuchKey: { status: 404, message: 'The specified key does not exist.' },
  NoSuchObjectLockConfiguration: { status: 404, message: 'The specified object does not have a ObjectLock configuration' },
  NoSuchLifecycleConfiguration: { status: 404, message: 'The lifecycle configuration does not exist' },
  NoSuchPublicAccessBlockConfiguration: { status: 404, message: 'The public access block configuration was not found' },
  NoSuchTagSet: { status: 404, message: 'The TagSet does not exist' },
  NoSuchUpload: { status: 404, message: 'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.' },
  NoSuchVersion: { status: 404, message: 'The specified version does not exist.' },
  NoSuchWebsiteConfiguration: { status: 404, message: 'The specified bucket does not have a website configuration' },
  MalformedACLError: { status: 400, message: 'The XML you provided was not well-formed or did not validate against our published schema.' },
  MalformedPolicy: { status: 400, message: 'Policies must be valid JSON and the first byte must be \'{\'' },
  NotImplemented: { status: 501, message: 'A header you provided implies functionality that is not implemented.' },
  NotModified: { status: 304, message: 'Not Modified' },
  ObjectLockConfigurationNotFoundError: { status: 404, message: 'Object Lock configuration does not exist for this bucket' },
  OperationAborted: { status: 409, message: 'A conflicting conditional operation is currently in progress against this resource. Try again.' },
  PreconditionFailed: { status: 412, message: 'At least one of the pre-conditions you specified did not hold.' },
  // The bucket's hard quota (docs/quotas.md): Ceph RGW's code and status, which SDKs do not retry.
  QuotaExceeded: { status: 403, message: 'The bucket quota would be exceeded by this write.' },
  ReplicationConfigurationNotFoundError: { status: 404, message: 'The replication configuration was not found' },
  RequestTimeout: { status: 400, message: 'Your socket connection to the server was not read from or written to within the timeout period.' },
  RequestTimeTooSkewed: { status: 403, message: 'The difference between the request time and the server\'s time is too large.' },
  ServerSideEncryptionConfigurationNotFoundError: { status: 404, message: 'The server side encryption configuration was not found' },
  ServiceUnavailable: { status: 503, message: 'Please reduce your request rate.' },
  SignatureDoesNotMatch: { status: 403, message: 'The request signature we calculated does not match the signature you provided. Check your key and signing method.' },
  SlowDown: { status: 503, message: 'Please reduce your request rate.' },
  UnresolvableGrantByEmailAddress: { status: 400, message: 'The e-mail address you provided does not match any account on record.' },
  XAmzContentSHA256Mismatch: { status: 400, message: 'The provided \'x-amz-content-sha256\' header does not match what was computed.' },
} as const satisfies Record<string, { status: number; message: string }>;

/** Every S3 error code Tessera answers with. */
export type S3ErrorCode = keyof typeof S3_ERRORS;

/** Extra fields S3 puts in the error body (Key, BucketName, ...) and an optional message override. */
export interface S3ErrorDetails {
  message?: string;
  fields?: Record<string, string>;
  /** Response headers that belong with this error (a 304 still names the ETag and Last-Modified). */
  headers?: Record<string, string>;
  cause?: unknown;
}

/** An error the gateway renders as S3's XML error body with the table's status. */
export class S3Error extends TesseraError<S3ErrorCode> {
  readonly status: number;
  readonly fields: Record<string, string>;
  /**
   * The request path S3 names in <Resource>. Handlers never set it: the error renderer does, for every
   * error it sends, so the one place that knows the request fills it in.
   */
  resource: string | undefined = undefined;
  readonly headers: Record<string, string>;

  constructor(code: S3ErrorCode, details: S3ErrorDetails = {}) {
    super(code, details.message ?? S3_ERRORS[code].message, details.cause === undefined ? undefined : { cause: details.cause });
    this.status = S3_ERRORS[code].status;
    this.fields = details.fields ?? {};
    this.headers = details.headers ?? {};
  }
}

/**
 * S3's answer to a copy that would read more than a copy may (a CopyObject source, an UploadPartCopy
 * part): 400 InvalidRequest naming the limit, not the EntityTooLarge of an upload.
 */
export function copySourceTooLarge(maxSizeBytes: number): S3Error {
  return new S3Error('InvalidRequest', { message: `The specified copy source is larger than the maximum allowable size for a copy source: ${maxSizeBytes}` });
}
