import { S3Error } from '../s3/index.js';
import type { PayloadMode } from './types.js';

/** The signature-related fields common to header and presigned authentication. */
export interface SignatureParams {
  accessKeyId: string;
  /** YYYYMMDD from the credential scope. */
  date: string;
  region: string;
  service: string;
  signedHeaders: string[];
  signature: string;
}

/** Longest SigV4 presigned lifetime (X-Amz-Expires) S3 accepts: seven days. */
export const MAX_PRESIGNED_EXPIRES_SECONDS = 604_800;

const PAYLOAD_MODES: Readonly<Record<string, PayloadMode>> = {
  'UNSIGNED-PAYLOAD': 'unsigned',
  'STREAMING-AWS4-HMAC-SHA256-PAYLOAD': 'streaming-signed',
  'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER': 'streaming-signed-trailer',
  'STREAMING-UNSIGNED-PAYLOAD-TRAILER': 'streaming-unsigned-trailer',
};

const SHA256_HEX = /^[0-9a-fA-F]{64}$/;
const ISO_BASIC = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;

/** Reads the payload mode from an `x-amz-content-sha256` value; throws S3's errors for unknown or unsupported values. */
export function parsePayloadHash(value: string): { mode: PayloadMode; sha256: string | undefined } {
  const mode = PAYLOAD_MODES[value];
  if (mode !== undefined) return { mode, sha256: undefined };
  if (SHA256_HEX.test(value)) return { mode: 'sha256', sha256: value.toLowerCase() };
  if (value.startsWith('STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD')) {
    throw new S3Error('NotImplemented', { message: 'SigV4a (AWS4-ECDSA-P256-SHA256) streaming payloads are not supported.' });
  }
  throw new S3Error('InvalidArgument', {
    message:
      'x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, ' +
      'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER or a valid sha256 value.',
    fields: { ArgumentName: 'x-amz-content-sha256', ArgumentValue: value },
  });
}

/** Parses `YYYYMMDDTHHMMSSZ` to epoch milliseconds, or undefined when malformed or not a real date. */
export function parseAmzDate(value: string): number | undefined {
  const m = ISO_BASIC.exec(value);
  if (m === null) return undefined;
  const [, y, mo, d, h, mi, s] = m.map(Number) as [number, number, number, number, number, number, number];
  const ms = Date.UTC(y, mo - 1, d, h, mi, s);
  const back = new Date(ms);
  // Date.UTC rolls 20130231 over into March; refuse instead.
  if (back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d || h > 23 || mi > 59 || s > 59) return undefined;
  return ms;
}

/** Formats epoch milliseconds as `YYYYMMDDTHHMMSSZ`. */
export function formatAmzDate(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

/** Parses `AKID/YYYYMMDD/region/s3/aws4_request`; `fail` builds the mechanism-specific error. */
export function parseCredential(value: string, fail: (detail: string) => S3Error): Omit<SignatureParams, 'signedHeaders' | 'signature'> {
  const parts = value.split('/');
  const [accessKeyId, date, region, service, terminal] = parts;
  if (parts.length !== 5 || !accessKeyId || !date || !region || !service || !terminal || !/^\d{8}$/.test(date)) {
    throw fail('the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".');
  }
  if (service !== 's3') throw fail(`incorrect service "${service}". This endpoint belongs to "s3".`);
  if (terminal !== 'aws4_request') throw fail(`incorrect terminal "${terminal}". This endpoint uses "aws4_request".`);
  return { accessKeyId, date, region, service };
}

/**
 * Parses a SignedHeaders list; names must be lower-case. An empty list parses: a list without host
 * is refused where S3 refuses it, as a header present but not signed (see authenticate.ts).
 */
export function parseSignedHeaders(value: string, fail: (detail: string) => S3Error): string[] {
  if (value === '') return [];
  const names = value.split(';');
  for (const name of names) {
    if (name === '' || name !== name.toLowerCase()) throw fail(`invalid SignedHeaders "${value}".`);
  }
  return names;
}

/** Parses `AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...`. */
export function parseAuthorizationHeader(value: string): SignatureParams {
  const fail = (detail: string): S3Error =>
    new S3Error('AuthorizationHeaderMalformed', { message: `The authorization header is malformed; ${detail}` });
  const space = value.indexOf(' ');
  const algorithm = space === -1 ? value : value.slice(0, space);
  if (algorithm !== 'AWS4-HMAC-SHA256') {
    throw new S3Error('InvalidRequest', {
      message: 'The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.',
    });
  }
  const fields = new Map<string, string>();
  for (const component of value.slice(space + 1).split(',')) {
    const trimmed = component.trim();
    if (trimmed === '') continue;
    const eq = trimmed.indexOf('=');
    const key = eq === -1 ? trimmed : trimmed.slice(0, eq).trim();
    if (fields.has(key)) throw fail(`duplicate component "${key}".`);
    fields.set(key, eq === -1 ? '' : trimmed.slice(eq + 1).trim());
  }
  const credential = fields.get('Credential');
  const signedHeaders = fields.get('SignedHeaders');
  const signature = fields.get('Signature');
  if (credential === undefined || signedHeaders === undefined || signature === undefined) {
    throw fail('the authorization header requires three components: Credential, SignedHeaders, and Signature.');
  }
  return {
    ...parseCredential(credential, fail),
    signedHeaders: parseSignedHeaders(signedHeaders, fail),
    signature,
  };
}

/** Parses `x-amz-decoded-content-length` (or any byte count header); undefined when absent. */
export function parseByteCount(name: string, value: string | string[] | undefined): number | undefined {
  if (value === undefined) return undefined;
  const text = Array.isArray(value) ? value.join(',') : value;
  const n = /^\d{1,16}$/.test(text.trim()) ? Number(text.trim()) : Number.NaN;
  if (!Number.isSafeInteger(n)) {
    throw new S3Error('InvalidArgument', { message: `Invalid ${name}`, fields: { ArgumentName: name, ArgumentValue: text } });
  }
  return n;
}
