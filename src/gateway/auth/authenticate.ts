import { S3Error } from '../s3/index.js';
import {
  formatAmzDate,
  MAX_PRESIGNED_EXPIRES_SECONDS,
  parseAmzDate,
  parseAuthorizationHeader,
  parseByteCount,
  parseCredential,
  parsePayloadHash,
  parseSignedHeaders,
  type SignatureParams,
} from './auth-params.js';
import { canonicalHeaders, canonicalPath, canonicalQuery, canonicalRequest, decodeQuery } from './canonical-request.js';
import { ChunkSigner, hmacHex, signingKeyFor, requestStringToSign, signaturesEqual, SIGV4_ALGORITHM } from './signing.js';
import { headerV2Auth, presignedV2Auth, refuseV2 } from './presigned-v2.js';
import { checkScopeRegion } from './region-scope.js';
import type { AuthenticateOptions, AuthRequest, AuthResult, CredentialStore, PayloadMode } from './types.js';

const DEFAULT_MAX_SKEW_MS = 15 * 60 * 1000;
const SIGNATURE_PARAM = 'X-Amz-Signature';
const PRESIGNED_PARAMS = ['X-Amz-Algorithm', 'X-Amz-Credential', 'X-Amz-Signature', 'X-Amz-Date', 'X-Amz-SignedHeaders', 'X-Amz-Expires'] as const;

type Headers = AuthRequest['headers'];

function headerValue(headers: Headers, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v.join(',') : v;
}

/** Everything both mechanisms have established before the signature itself is checked. */
interface Verification {
  params: SignatureParams;
  amzDate: string;
  payloadHashLine: string;
  payload: { mode: PayloadMode; sha256: string | undefined };
  query: [string, string][];
  presigned: boolean;
}

/**
 * Verifies the request's SigV4 signature (Authorization header or X-Amz-* query) and returns who signed it and how the
 * body is protected. Throws S3Error. Does not read the body: call it before answering `Expect: 100-continue`.
 */
export function authenticate(req: AuthRequest, credentials: CredentialStore, options: AuthenticateOptions): AuthResult {
  const maxSkewMs = options.maxSkewMs ?? DEFAULT_MAX_SKEW_MS;
  const authorization = headerValue(req.headers, 'authorization');
  const query = decodeQuery(req.rawQuery);
  const hasQueryAuth = query.some(([k]) => k === 'X-Amz-Algorithm' || k === 'X-Amz-Credential' || k === SIGNATURE_PARAM);
  if (authorization !== undefined && hasQueryAuth) {
    throw new S3Error('InvalidArgument', {
      message:
        'Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified',
      fields: { ArgumentName: 'Authorization', ArgumentValue: authorization },
    });
  }
  if (authorization !== undefined && authorization.startsWith('AWS ')) {
    refuseV2(options.signatureV2);
    return headerV2Auth(req, authorization, query, credentials, options.nowMs);
  }
  if (authorization !== undefined) return verify(req, credentials, headerAuth(req, authorization, query, options, maxSkewMs));
  if (hasQueryAuth) return verify(req, credentials, presignedAuth(req, query, options, maxSkewMs));
  if (query.some(([k]) => k === 'AWSAccessKeyId') && query.some(([k]) => k === 'Signature')) {
    refuseV2(options.signatureV2);
    return presignedV2Auth(req, query, credentials, options.nowMs);
  }
  return anonymousAuth(req);
}

/**
 * A request the console's session cookie vouches for (the console checked the cookie and that the key
 * is still the user's): the key's holder, with an unsigned body as an anonymous request has (a hash
 * the page declares is still checked). A signature beside the session is refused rather than ignored.
 */
export function sessionAuth(req: AuthRequest, accessKeyId: string): AuthResult {
  const query = decodeQuery(req.rawQuery);
  const signed = headerValue(req.headers, 'authorization') !== undefined || query.some(([k]) => k === 'X-Amz-Algorithm' || k === SIGNATURE_PARAM || k === 'Signature');
  if (signed) throw new S3Error('InvalidRequest', { message: 'A console request is authenticated by its session; it carries no signature.' });
  return { ...anonymousAuth(req), accessKeyId, anonymous: false };
}

/**
 * An unsigned request: no key, no signed body. Whether it may do anything is the access decision's
 * to say (ACL grants to AllUsers, bucket policies), not authentication's.
 */
function anonymousAuth(req: AuthRequest): AuthResult {
  const payload = anonymousPayload(req.headers);
  return {
    accessKeyId: '',
    anonymous: true,
    presigned: false,
    payloadMode: payload.mode,
    decodedContentLength: payload.mode === 'streaming-unsigned-trailer' ? parseByteCount('x-amz-decoded-content-length', req.headers['x-amz-decoded-content-length']) : undefined,
    payloadSha256: payload.sha256,
    region: 'us-east-1',
    signedHeaders: [],
    signature: '',
    // No chunk chain exists without a signature; the unsigned payload mode never asks this signer for anything.
    chunkSigner: new ChunkSigner(Buffer.alloc(32), '', ''),
  };
}

/**
 * What an unsigned request's body is. A hash the client declares is still checked against the body.
 * An aws-chunked body is unframed as a signed client's is: botocore's UNSIGNED client frames its
 * uploads so over HTTPS, with a checksum trailer, and sends no x-amz-content-sha256 at all; stored as
 * it came, the framing would become part of the object. A signed framing cannot be read without the
 * signature its chunks chain from.
 */
function anonymousPayload(headers: Headers): { mode: PayloadMode; sha256: string | undefined } {
  const declared = headerValue(headers, 'x-amz-content-sha256');
  if (declared !== undefined) {
    const payload = parsePayloadHash(declared);
    if (payload.mode === 'streaming-signed' || payload.mode === 'streaming-signed-trailer') {
      throw new S3Error('InvalidRequest', { message: `x-amz-content-sha256 ${declared} needs a signed request.` });
    }
    return payload;
  }
  const codings = (headerValue(headers, 'content-encoding') ?? '').split(',').map((coding) => coding.trim().toLowerCase());
  return codings.includes('aws-chunked') ? { mode: 'streaming-unsigned-trailer', sha256: undefined } : { mode: 'unsigned', sha256: undefined };
}

function headerAuth(req: AuthRequest, authorization: string, query: [string, string][], options: AuthenticateOptions, maxSkewMs: number): Verification {
  const { nowMs } = options;
  const params = parseAuthorizationHeader(authorization);
  checkScopeRegion(options.regions, params.region, 'header', params.accessKeyId);
  const contentSha256 = headerValue(req.headers, 'x-amz-content-sha256');
  if (contentSha256 === undefined) {
    throw new S3Error('InvalidRequest', { message: 'Missing required header for this request: x-amz-content-sha256' });
  }
  const payload = parsePayloadHash(contentSha256);
  const amzDateHeader = headerValue(req.headers, 'x-amz-date');
  let dateMs: number | undefined;
  let amzDate: string;
  if (amzDateHeader !== undefined) {
    dateMs = parseAmzDate(amzDateHeader);
    amzDate = amzDateHeader;
  } else {
    // SigV4 allows the HTTP Date header instead; the string to sign then carries it in ISO 8601 basic form.
    const parsed = Date.parse(headerValue(req.headers, 'date') ?? '');
    dateMs = Number.isNaN(parsed) ? undefined : parsed;
    amzDate = dateMs === undefined ? '' : formatAmzDate(dateMs);
  }
  if (dateMs === undefined) {
    throw new S3Error('AccessDenied', { message: 'AWS authentication requires a valid Date or x-amz-date header' });
  }
  if (params.date !== amzDate.slice(0, 8)) {
    throw new S3Error('AuthorizationHeaderMalformed', {
      message: 'The authorization header is malformed; Invalid credential date. Date is not the same as X-Amz-Date.',
    });
  }
  if (Math.abs(nowMs - dateMs) > maxSkewMs) {
    throw new S3Error('RequestTimeTooSkewed', {
      fields: {
        RequestTime: amzDate,
        ServerTime: new Date(nowMs).toISOString(),
        MaxAllowedSkewMilliseconds: String(maxSkewMs),
      },
    });
  }
  return { params, amzDate, payloadHashLine: contentSha256, payload, query, presigned: false };
}

function presignedAuth(req: AuthRequest, query: [string, string][], options: AuthenticateOptions, maxSkewMs: number): Verification {
  const { nowMs } = options;
  const queryError = (message: string): S3Error => new S3Error('AuthorizationQueryParametersError', { message });
  const param = (name: string): string | undefined => {
    const hits = query.filter(([k]) => k === name);
    if (hits.length > 1) throw queryError(`Duplicate ${name} query parameter.`);
    return hits[0]?.[1];
  };
  const values = PRESIGNED_PARAMS.map(param);
  const [algorithm, credential, signature, amzDate, signedHeaders, expires] = values;
  if (algorithm === undefined || credential === undefined || signature === undefined || amzDate === undefined || signedHeaders === undefined || expires === undefined) {
    throw queryError(
      'Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.',
    );
  }
  if (algorithm !== SIGV4_ALGORITHM) throw queryError('X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"');
  const params: SignatureParams = {
    ...parseCredential(credential, (detail) => queryError(`Error parsing the X-Amz-Credential parameter; ${detail}`)),
    signedHeaders: parseSignedHeaders(signedHeaders, (detail) => queryError(`Error parsing the X-Amz-SignedHeaders parameter; ${detail}`)),
    signature,
  };
  checkScopeRegion(options.regions, params.region, 'presigned', credential);
  const dateMs = parseAmzDate(amzDate);
  if (dateMs === undefined) throw queryError('X-Amz-Date must be in the ISO8601 Long Format "yyyyMMdd\'T\'HHmmss\'Z\'"');
  if (params.date !== amzDate.slice(0, 8)) {
    throw queryError(`Invalid credential date "${params.date}". This date is not the same as X-Amz-Date: "${amzDate.slice(0, 8)}".`);
  }
  if (/^-\d{1,10}$/.test(expires)) throw queryError('X-Amz-Expires must be non-negative');
  if (!/^\d{1,10}$/.test(expires)) throw queryError('X-Amz-Expires should be a number');
  const expiresSeconds = Number(expires);
  if (expiresSeconds > MAX_PRESIGNED_EXPIRES_SECONDS) {
    throw queryError(
      `X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires must be less than ${MAX_PRESIGNED_EXPIRES_SECONDS} seconds`,
    );
  }
  if (nowMs < dateMs - maxSkewMs) throw new S3Error('AccessDenied', { message: 'Request is not valid yet' });
  // A lifetime of 0 is below S3's minimum of 1 second: such a URL has expired however it is dated.
  if (expiresSeconds === 0 || nowMs > dateMs + expiresSeconds * 1000) {
    throw new S3Error('AccessDenied', {
      message: 'Request has expired',
      fields: {
        'X-Amz-Expires': expires,
        Expires: new Date(dateMs + expiresSeconds * 1000).toISOString(),
        ServerTime: new Date(nowMs).toISOString(),
      },
    });
  }
  // A presigner that knew the body hash hoists it into the query; otherwise the URL signs UNSIGNED-PAYLOAD.
  const fromQuery = query.find(([k]) => k.toLowerCase() === 'x-amz-content-sha256')?.[1];
  const fromHeader = headerValue(req.headers, 'x-amz-content-sha256');
  const payloadHashLine = fromQuery ?? (fromHeader !== undefined && params.signedHeaders.includes('x-amz-content-sha256') ? fromHeader : 'UNSIGNED-PAYLOAD');
  // The header may still choose framing or add a hash check: neither can weaken an unsigned-payload URL.
  const payload = parsePayloadHash(fromQuery ?? fromHeader ?? 'UNSIGNED-PAYLOAD');
  return { params, amzDate, payloadHashLine, payload, query, presigned: true };
}

function verify(req: AuthRequest, credentials: CredentialStore, v: Verification): AuthResult {
  const { params } = v;
  const secretKey = credentials.secretKeyFor(params.accessKeyId);
  if (secretKey === undefined) throw new S3Error('InvalidAccessKeyId', { fields: { AWSAccessKeyId: params.accessKeyId } });
  // An unsigned x-amz-* header could be added by anyone replaying the request (x-amz-copy-source, x-amz-meta-*, ...).
  // x-amz-content-sha256 is exempt as in S3: its value is bound by the payload-hash line or checked against the body.
  // Host must always be signed; S3 names it here too (403, HeadersNotSigned: host), not as a malformed list.
  const notSigned = Object.keys(req.headers).filter(
    (name) => name.startsWith('x-amz-') && name !== 'x-amz-content-sha256' && req.headers[name] !== undefined && !params.signedHeaders.includes(name),
  );
  if (!params.signedHeaders.includes('host')) notSigned.unshift('host');
  if (notSigned.length > 0) {
    throw new S3Error('AccessDenied', {
      message: 'There were headers present in the request which were not signed',
      fields: { HeadersNotSigned: notSigned.join(', ') },
    });
  }
  const canonical = canonicalRequest({
    method: req.method,
    path: canonicalPath(req.rawPath),
    query: canonicalQuery(v.query, v.presigned ? SIGNATURE_PARAM : undefined),
    headers: canonicalHeaders(params.signedHeaders, req.headers),
    signedHeaders: params.signedHeaders,
    payloadHash: v.payloadHashLine,
  });
  const scope = `${params.date}/${params.region}/${params.service}/aws4_request`;
  const stringToSign = requestStringToSign(v.amzDate, scope, canonical);
  const signingKey = signingKeyFor(params.accessKeyId, secretKey, params.date, params.region, params.service);
  const expected = hmacHex(signingKey, stringToSign);
  if (!signaturesEqual(params.signature, expected)) {
    throw new S3Error('SignatureDoesNotMatch', {
      fields: {
        AWSAccessKeyId: params.accessKeyId,
        StringToSign: stringToSign,
        SignatureProvided: params.signature,
        CanonicalRequest: canonical,
      },
    });
  }
  return {
    accessKeyId: params.accessKeyId,
    anonymous: false,
    presigned: v.presigned,
    payloadMode: v.payload.mode,
    decodedContentLength: parseByteCount('x-amz-decoded-content-length', req.headers['x-amz-decoded-content-length']),
    payloadSha256: v.payload.sha256,
    region: params.region,
    signedHeaders: params.signedHeaders,
    signature: params.signature,
    chunkSigner: new ChunkSigner(signingKey, v.amzDate, scope),
  };
}
