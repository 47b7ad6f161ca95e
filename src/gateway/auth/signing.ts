import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/** The only SigV4 algorithm Tessera verifies. */
export const SIGV4_ALGORITHM = 'AWS4-HMAC-SHA256';
/** Lower-case hex SHA-256 of the empty string (the "headers" line of every chunk string-to-sign). */
export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/** kSigning = HMAC chain over "AWS4"+secret, date (YYYYMMDD), region, service, "aws4_request". */
export function deriveSigningKey(secretKey: string, date: string, region: string, service: string): Buffer {
  const kDate = createHmac('sha256', `AWS4${secretKey}`).update(date, 'latin1').digest();
  const kRegion = createHmac('sha256', kDate).update(region, 'latin1').digest();
  const kService = createHmac('sha256', kRegion).update(service, 'latin1').digest();
  return createHmac('sha256', kService).update('aws4_request', 'latin1').digest();
}

/** Signing keys derived lately, by scope: a key serves every request of its scope for a day. */
const signingKeys = new Map<string, { secretKey: string; signingKey: Buffer }>();
const MAX_CACHED_SIGNING_KEYS = 1024;

/**
 * deriveSigningKey, remembered per access key and scope as SDKs do: four HMACs a request showed in
 * profiles of small requests. An entry is used only for the very secret it was derived from, so a
 * changed secret takes effect at once; the cache is emptied when full (a day's scopes are few).
 */
export function signingKeyFor(accessKeyId: string, secretKey: string, date: string, region: string, service: string): Buffer {
  const scope = `${accessKeyId}/${date}/${region}/${service}`;
  const cached = signingKeys.get(scope);
  if (cached !== undefined && cached.secretKey === secretKey) return cached.signingKey;
  const signingKey = deriveSigningKey(secretKey, date, region, service);
  if (signingKeys.size >= MAX_CACHED_SIGNING_KEYS) signingKeys.clear();
  signingKeys.set(scope, { secretKey, signingKey });
  return signingKey;
}

/** Lower-case hex HMAC-SHA256 of a byte string. */
export function hmacHex(key: Buffer, byteString: string): string {
  return createHmac('sha256', key).update(byteString, 'latin1').digest('hex');
}

/** Lower-case hex SHA-256 of a byte string. */
export function sha256Hex(byteString: string): string {
  return createHash('sha256').update(byteString, 'latin1').digest('hex');
}

/** The SigV4 string to sign for a request. */
export function requestStringToSign(amzDate: string, scope: string, canonicalRequestText: string): string {
  return `${SIGV4_ALGORITHM}\n${amzDate}\n${scope}\n${sha256Hex(canonicalRequestText)}`;
}

/** Constant-time equality of two signatures (lengths are not secret). */
export function signaturesEqual(provided: string, expected: string): boolean {
  if (provided.length !== expected.length) return false;
  return timingSafeEqual(Buffer.from(provided, 'latin1'), Buffer.from(expected, 'latin1'));
}

/**
 * Computes the chained signatures of one request's aws-chunked body. It holds the derived signing key in a private
 * field so that logging an AuthResult cannot leak it.
 */
export class ChunkSigner {
  readonly #key: Buffer;
  readonly amzDate: string;
  readonly scope: string;

  constructor(signingKey: Buffer, amzDate: string, scope: string) {
    this.#key = signingKey;
    this.amzDate = amzDate;
    this.scope = scope;
  }

  /** Signature of one chunk, chained from the previous chunk's (or the request's seed) signature. */
  chunkSignature(previousSignature: string, chunkSha256Hex: string): string {
    return hmacHex(this.#key, `AWS4-HMAC-SHA256-PAYLOAD\n${this.amzDate}\n${this.scope}\n${previousSignature}\n${EMPTY_SHA256}\n${chunkSha256Hex}`);
  }

  /** Signature of the trailer section (`name:value\n` per trailer), chained from the final chunk's signature. */
  trailerSignature(previousSignature: string, trailerSha256Hex: string): string {
    return hmacHex(this.#key, `AWS4-HMAC-SHA256-TRAILER\n${this.amzDate}\n${this.scope}\n${previousSignature}\n${trailerSha256Hex}`);
  }

  /** What a logger sees: never the key. */
  toJSON(): { amzDate: string; scope: string } {
    return { amzDate: this.amzDate, scope: this.scope };
  }
}
