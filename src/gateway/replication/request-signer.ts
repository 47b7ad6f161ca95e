import { canonicalHeaders, canonicalRequest, deriveSigningKey, hmacHex, requestStringToSign, SIGV4_ALGORITHM } from '../auth/index.js';

/** Headers a signature covers besides host: every x-amz-* and x-tessera-* one, and the body's type and digest. */
function isSignedHeader(name: string): boolean {
  return name === 'host' || name.startsWith('x-amz-') || name.startsWith('x-tessera-') || name === 'content-type' || name === 'content-md5';
}

/** `YYYYMMDDTHHMMSSZ`, SigV4's request time. */
export function amzDateOf(nowMs: number): string {
  return new Date(nowMs).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

/**
 * Signs requests to one S3 store with one key pair (SigV4, header form), on the gateway's own SigV4
 * primitives, so that the signatures Tessera sends and the ones it checks come from one piece of code.
 * The secret and the day's signing key stay in private fields: logging a signer shows neither.
 */
export class RequestSigner {
  readonly #accessKeyId: string;
  readonly #secretAccessKey: string;
  readonly #region: string;
  #signingKey: { date: string; key: Buffer } | undefined;

  constructor(credentials: { accessKeyId: string; secretAccessKey: string; region: string }) {
    this.#accessKeyId = credentials.accessKeyId;
    this.#secretAccessKey = credentials.secretAccessKey;
    this.#region = credentials.region;
  }

  /**
   * The Authorization header of a request. `path` and `query` are already in canonical form (each
   * byte encoded once, query pairs sorted) and are sent as they are; `headers` has lower-case names and
   * holds host, x-amz-date and x-amz-content-sha256 (`payloadHash`).
   */
  authorization(request: { method: string; path: string; query: string; headers: Readonly<Record<string, string>>; payloadHash: string; amzDate: string }): string {
    const date = request.amzDate.slice(0, 8);
    const scope = `${date}/${this.#region}/s3/aws4_request`;
    const signedHeaders = Object.keys(request.headers).filter(isSignedHeader).sort();
    const text = canonicalRequest({
      method: request.method,
      path: request.path,
      query: request.query,
      headers: canonicalHeaders(signedHeaders, request.headers),
      signedHeaders,
      payloadHash: request.payloadHash,
    });
    const signature = hmacHex(this.#keyFor(date), requestStringToSign(request.amzDate, scope, text));
    return `${SIGV4_ALGORITHM} Credential=${this.#accessKeyId}/${scope}, SignedHeaders=${signedHeaders.join(';')}, Signature=${signature}`;
  }

  #keyFor(date: string): Buffer {
    if (this.#signingKey?.date !== date) this.#signingKey = { date, key: deriveSigningKey(this.#secretAccessKey, date, this.#region, 's3') };
    return this.#signingKey.key;
  }

  /** What a logger sees: never the secret. */
  toJSON(): { accessKeyId: string; region: string } {
    return { accessKeyId: this.#accessKeyId, region: this.#region };
  }
}
