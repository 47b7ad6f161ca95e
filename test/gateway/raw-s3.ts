/**
 * Signed raw S3 requests for integration tests that must see the wire: exact XML, header precedence,
 * encodings the SDK would hide. Signed with @smithy/signature-v4 (the SDK's own signer), sent with undici.
 */
import { HttpRequest, buildQueryString, extendedEncodeURIComponent } from '@smithy/core/protocols';
import type { Readable } from 'node:stream';
import { request } from 'undici';
import { TEST_CREDENTIALS } from '../helpers/cluster.js';
import { sha256Hex, smithySigner } from './auth/helpers.js';

/** What came back, with the body as text. */
export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One S3 request: bucket and key are encoded here; query values are raw (encoded by the signer's rules). */
export interface RawRequest {
  method: string;
  bucket?: string;
  key?: string;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** A streamed body instead (sign it as UNSIGNED-PAYLOAD and give its content-length in `headers`). */
  bodyStream?: Readable;
  /** Leave unsigned (CORS preflights, anonymous probes). */
  anonymous?: boolean;
  /** Sign with these instead of the test cluster's administrator keys. */
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** The credential scope's region; us-east-1, the test gateways' region, by default. */
  region?: string;
}

/** The path-and-query and headers of a signed (or anonymous) request, for tests that send it themselves. */
export async function signRaw(endpoint: string, options: RawRequest): Promise<{ url: string; pathAndQuery: string; headers: Record<string, string> }> {
  const url = new URL(endpoint);
  const port = Number(url.port);
  let path = '/';
  if (options.bucket !== undefined) path += options.bucket;
  if (options.key !== undefined) path += `/${options.key.split('/').map(extendedEncodeURIComponent).join('/')}`;
  const query = options.query ?? {};
  const body = options.body === undefined ? undefined : Buffer.from(options.body);
  let headers: Record<string, string> = { host: `${url.hostname}:${port}`, ...options.headers };
  if (options.anonymous !== true) {
    headers['x-amz-content-sha256'] ??= sha256Hex(body ?? '');
    const credentials = options.credentials ?? TEST_CREDENTIALS;
    const signer = smithySigner(options.region ?? 'us-east-1', credentials.accessKeyId, credentials.secretAccessKey);
    const signed = await signer.sign(new HttpRequest({ method: options.method, protocol: 'http:', hostname: url.hostname, port, path, query, headers }));
    headers = signed.headers;
  }
  const queryString = buildQueryString(query);
  const pathAndQuery = `${path}${queryString === '' ? '' : `?${queryString}`}`;
  return { url: `${url.origin}${pathAndQuery}`, pathAndQuery, headers };
}

/** Sends a SigV4-signed (or anonymous) request to the gateway at `endpoint`. */
export async function rawS3(endpoint: string, options: RawRequest): Promise<RawResponse> {
  const { url, headers } = await signRaw(endpoint, options);
  const body = options.body === undefined ? undefined : Buffer.from(options.body);
  const response = await request(url, { method: options.method as 'GET', headers, body: options.bodyStream ?? body ?? null });
  return { status: response.statusCode, headers: response.headers, body: await response.body.text() };
}

/** The text of the first `<name>` element in an XML document, or undefined. */
export function xmlField(xml: string, name: string): string | undefined {
  const match = new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml);
  return match?.[1];
}

/** Every `<name>` element's text, in document order. */
export function xmlFields(xml: string, name: string): string[] {
  return [...xml.matchAll(new RegExp(`<${name}>([^<]*)</${name}>`, 'g'))].map((m) => m[1] ?? '');
}

/** The S3 error an SDK call failed with (name, HTTP status), or 'no error'. */
export async function sdkError(promise: Promise<unknown>): Promise<{ name: string; status: number | undefined }> {
  try {
    await promise;
  } catch (err) {
    const e = err as { name?: unknown; $metadata?: { httpStatusCode?: number } };
    if (typeof e.name === 'string' && e.$metadata !== undefined) return { name: e.name, status: e.$metadata.httpStatusCode };
    throw err;
  }
  return { name: 'no error', status: undefined };
}

/** A CompleteMultipartUpload document naming `parts`, for raw requests. */
export function completeXml(parts: readonly { PartNumber: number; ETag: string }[]): string {
  const body = parts.map((part) => `<Part><PartNumber>${part.PartNumber}</PartNumber><ETag>${part.ETag}</ETag></Part>`).join('');
  return `<CompleteMultipartUpload>${body}</CompleteMultipartUpload>`;
}
