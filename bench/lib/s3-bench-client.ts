import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { Readable } from 'node:stream';
import { SignatureV4 } from '@smithy/signature-v4';
import { Pool } from 'undici';

/** Bodies are written in slices of this size, so a large PUT streams through undici's backpressure. */
const PUT_SLICE_BYTES = 1024 * 1024;

/** Node's SHA-256 behind the interface the SigV4 signer expects (plain hash, or HMAC when given a secret). */
class NodeSha256 {
  private readonly secret: Uint8Array | string | undefined;
  private hash: Hash | Hmac;

  constructor(secret?: Uint8Array | string | ArrayBuffer | ArrayBufferView) {
    this.secret = toBytes(secret);
    this.hash = this.fresh();
  }

  update(chunk: Uint8Array | string): void {
    this.hash.update(chunk);
  }

  async digest(): Promise<Uint8Array> {
    return this.hash.digest();
  }

  reset(): void {
    this.hash = this.fresh();
  }

  private fresh(): Hash | Hmac {
    return this.secret === undefined ? createHash('sha256') : createHmac('sha256', this.secret);
  }
}

function toBytes(data: Uint8Array | string | ArrayBuffer | ArrayBufferView | undefined): Uint8Array | string | undefined {
  if (data === undefined || typeof data === 'string' || data instanceof Uint8Array) return data;
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return new Uint8Array(data);
}

/** A finished request: its status and how many response body bytes were read. */
export interface ResponseSummary {
  status: number;
  bodyBytes: number;
}

/** Thrown for a non-2xx answer; carries the start of the body (S3 puts its error code there). */
export class BenchHttpError extends Error {
  readonly status: number;

  constructor(status: number, message: string) {
    super(message);
    this.name = 'BenchHttpError';
    this.status = status;
  }
}

/**
 * The one HTTP client every target is measured with: path-style S3 requests, SigV4-signed with an unsigned payload,
 * over one undici Pool per endpoint. Bodies stream from caller-owned buffers; GET bodies are read fully and counted.
 */
export class S3BenchClient {
  private readonly url: URL;
  private readonly pool: Pool;
  private readonly signer: SignatureV4;

  constructor(options: { endpoint: string; accessKeyId: string; secretAccessKey: string; connections: number; timeoutMs: number }) {
    this.url = new URL(options.endpoint);
    this.pool = new Pool(this.url.origin, {
      connections: options.connections,
      pipelining: 1,
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
      keepAliveTimeout: 30_000,
    });
    this.signer = new SignatureV4({
      service: 's3',
      region: 'us-east-1',
      credentials: { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey },
      sha256: NodeSha256,
      uriEscapePath: false,
      applyChecksum: false,
    });
  }

  /** Creates a bucket; an existing one owned by us is fine. */
  async createBucket(bucket: string): Promise<void> {
    const headers = await this.sign('PUT', `/${bucket}`, { 'content-length': '0' });
    const { statusCode, body } = await this.pool.request({ method: 'PUT', path: `/${bucket}`, headers });
    const text = await body.text();
    if (statusCode >= 300 && !text.includes('BucketAlreadyOwnedByYou')) throw new BenchHttpError(statusCode, `CreateBucket ${bucket}: ${statusCode} ${text.slice(0, 300)}`);
  }

  /** PUTs a bucket's configuration document `xml` to sub-resource `subresource` (`notification`, ...). */
  async putBucketConfiguration(bucket: string, subresource: string, xml: string): Promise<void> {
    const body = Buffer.from(xml, 'utf8');
    const headers = await this.sign('PUT', `/${bucket}`, { 'content-length': String(body.length), 'content-type': 'application/xml' }, { [subresource]: '' });
    const { statusCode, body: answer } = await this.pool.request({ method: 'PUT', path: `/${bucket}?${subresource}=`, headers, body });
    const text = await answer.text();
    if (statusCode >= 300) throw new BenchHttpError(statusCode, `PUT ${bucket}?${subresource}: ${statusCode} ${text.slice(0, 300)}`);
  }

  /** PUTs `payload` (one buffer, or parts sent back to back) as `bucket/key`, streamed in slices; `extraHeaders` are signed too (e.g. SSE). */
  async put(bucket: string, key: string, payload: Uint8Array | readonly Uint8Array[], extraHeaders: Readonly<Record<string, string>> = {}): Promise<ResponseSummary> {
    const parts = asParts(payload);
    const sizeBytes = totalBytes(parts);
    const path = `/${bucket}/${key}`;
    const headers = await this.sign('PUT', path, { 'content-length': String(sizeBytes), 'content-type': 'application/octet-stream', ...extraHeaders });
    const body =
      sizeBytes > PUT_SLICE_BYTES ? Readable.from(slices(parts), { objectMode: false }) : parts.length === 1 ? (parts[0] as Uint8Array) : Buffer.concat(parts);
    const response = await this.pool.request({ method: 'PUT', path, headers, body });
    const text = await response.body.text();
    if (response.statusCode >= 300) throw new BenchHttpError(response.statusCode, `PUT ${path}: ${response.statusCode} ${text.slice(0, 300)}`);
    return { status: response.statusCode, bodyBytes: 0 };
  }

  /**
   * GETs `bucket/key`, reads the whole body and checks its length is that of `expected` (one buffer, or parts back to
   * back); with `verify` the bytes are also compared against `expected` as they arrive.
   */
  async get(
    bucket: string,
    key: string,
    expected: Uint8Array | readonly Uint8Array[],
    verify: boolean,
    extraHeaders: Readonly<Record<string, string>> = {},
  ): Promise<ResponseSummary> {
    const parts = asParts(expected);
    const expectedBytes = totalBytes(parts);
    const path = `/${bucket}/${key}`;
    const headers = await this.sign('GET', path, { ...extraHeaders });
    const response = await this.pool.request({ method: 'GET', path, headers });
    if (response.statusCode >= 300) {
      const text = await response.body.text();
      throw new BenchHttpError(response.statusCode, `GET ${path}: ${response.statusCode} ${text.slice(0, 300)}`);
    }
    let bodyBytes = 0;
    for await (const chunk of response.body as AsyncIterable<Buffer>) {
      if (verify && !sameBytes(chunk, parts, bodyBytes, expectedBytes)) {
        response.body.destroy();
        throw new Error(`GET ${path}: body differs from what was PUT within bytes ${bodyBytes}..${bodyBytes + chunk.length}`);
      }
      bodyBytes += chunk.length;
    }
    if (bodyBytes !== expectedBytes) throw new Error(`GET ${path}: ${bodyBytes} body bytes, expected ${expectedBytes}`);
    return { status: response.statusCode, bodyBytes };
  }

  /** Closes the pool's connections. */
  async close(): Promise<void> {
    await this.pool.close();
  }

  private async sign(method: string, path: string, extra: Record<string, string>, query: Record<string, string> = {}): Promise<Record<string, string>> {
    const signed = await this.signer.sign({
      method,
      protocol: this.url.protocol,
      hostname: this.url.hostname,
      port: Number(this.url.port),
      path,
      query,
      headers: { host: this.url.host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', ...extra },
    });
    return signed.headers;
  }
}

function asParts(payload: Uint8Array | readonly Uint8Array[]): readonly Uint8Array[] {
  return payload instanceof Uint8Array ? [payload] : payload;
}

function totalBytes(parts: readonly Uint8Array[]): number {
  return parts.reduce((sum, part) => sum + part.byteLength, 0);
}

function* slices(parts: readonly Uint8Array[]): Generator<Uint8Array> {
  for (const part of parts) {
    for (let offset = 0; offset < part.byteLength; offset += PUT_SLICE_BYTES) {
      yield part.subarray(offset, Math.min(offset + PUT_SLICE_BYTES, part.byteLength));
    }
  }
}

/** Whether `chunk` equals the bytes at `offset` of the concatenation of `parts` (`totalBytes` long). */
function sameBytes(chunk: Buffer, parts: readonly Uint8Array[], offset: number, total: number): boolean {
  if (offset + chunk.length > total) return false;
  let chunkOffset = 0;
  let partStart = 0;
  for (const part of parts) {
    const partEnd = partStart + part.byteLength;
    const from = offset + chunkOffset;
    if (chunkOffset < chunk.length && from < partEnd) {
      const take = Math.min(chunk.length - chunkOffset, partEnd - from);
      const want = part.subarray(from - partStart, from - partStart + take);
      if (Buffer.compare(chunk.subarray(chunkOffset, chunkOffset + take), want) !== 0) return false;
      chunkOffset += take;
    }
    partStart = partEnd;
  }
  return chunkOffset === chunk.length;
}
