import { createHash, createHmac } from 'node:crypto';
import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

/**
 * Signed S3 requests written out by hand, for reproducing the exact requests of clients that cannot be
 * installed here (the CRT client under s3torchconnector, the AWS C++ SDK under TensorFlow): every query
 * parameter, header and body framing is the caller's choice. SigV4 in the Authorization header, written
 * from the AWS documentation, independently of Tessera's verifier.
 */

export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** The response body as text, for error documents and XML. */
  text: string;
}

export interface RawRequest {
  method: string;
  /** `/bucket` or `/bucket/key`, unencoded; each segment is URI-encoded here. */
  path: string;
  /** Query parameters in any order; an empty value is sent as `name=`. */
  query?: readonly (readonly [string, string])[];
  headers?: Record<string, string>;
  body?: Buffer;
  /** The x-amz-content-sha256 value: the body's SHA-256 (default), UNSIGNED-PAYLOAD or a STREAMING-* mode. */
  contentSha256?: string;
}

export const EMPTY_SHA256 = createHash('sha256').digest('hex');

/** RFC 3986 encoding as SigV4 wants it: everything but unreserved characters, `/` kept only in paths. */
export function uriEncode(value: string, keepSlash = false): string {
  return Array.from(Buffer.from(value, 'utf8'))
    .map((byte) => {
      const ch = String.fromCharCode(byte);
      if (/[A-Za-z0-9\-._~]/.test(ch) || (keepSlash && ch === '/')) return ch;
      return `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
    })
    .join('');
}

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

export class RawS3 {
  private readonly url: URL;
  private readonly agent: HttpAgent | HttpsAgent;
  private readonly credentials: { accessKeyId: string; secretAccessKey: string };
  private readonly options: { ca?: string; region?: string };

  constructor(endpoint: string, credentials: { accessKeyId: string; secretAccessKey: string }, options: { ca?: string; region?: string } = {}) {
    this.url = new URL(endpoint);
    this.credentials = credentials;
    this.options = options;
    // Keep-alive, several sockets: parallel ranged GETs share connections as a real client's pool does.
    this.agent = this.url.protocol === 'https:' ? new HttpsAgent({ keepAlive: true, maxSockets: 8, ...(options.ca === undefined ? {} : { ca: options.ca }) }) : new HttpAgent({ keepAlive: true, maxSockets: 8 });
  }

  close(): void {
    this.agent.destroy();
  }

  async send(req: RawRequest): Promise<RawResponse> {
    const body = req.body ?? Buffer.alloc(0);
    const contentSha256 = req.contentSha256 ?? createHash('sha256').update(body).digest('hex');
    const now = new Date();
    const amzDate = now.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
    const date = amzDate.slice(0, 8);
    const region = this.options.region ?? 'us-east-1';
    const canonicalPath = uriEncode(req.path, true);
    const query = [...(req.query ?? [])].map(([k, v]) => [uriEncode(k), uriEncode(v)] as const).sort(([a, av], [b, bv]) => (a < b ? -1 : a > b ? 1 : av < bv ? -1 : av > bv ? 1 : 0));
    const canonicalQuery = query.map(([k, v]) => `${k}=${v}`).join('&');
    const headers: Record<string, string> = {
      host: this.url.host,
      'x-amz-date': amzDate,
      'x-amz-content-sha256': contentSha256,
      ...Object.fromEntries(Object.entries(req.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v])),
    };
    if (req.body !== undefined || req.method === 'PUT' || req.method === 'POST') headers['content-length'] = String(body.length);
    const names = Object.keys(headers).sort();
    const canonicalHeaders = names.map((name) => `${name}:${String(headers[name]).trim().replace(/\s+/g, ' ')}\n`).join('');
    const signedHeaders = names.join(';');
    const canonicalRequest = [req.method, canonicalPath, canonicalQuery, canonicalHeaders, signedHeaders, contentSha256].join('\n');
    const scope = `${date}/${region}/s3/aws4_request`;
    const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, createHash('sha256').update(canonicalRequest).digest('hex')].join('\n');
    const key = hmac(hmac(hmac(hmac(`AWS4${this.credentials.secretAccessKey}`, date), region), 's3'), 'aws4_request');
    const signature = createHmac('sha256', key).update(stringToSign).digest('hex');
    headers['authorization'] = `AWS4-HMAC-SHA256 Credential=${this.credentials.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
    const send = this.url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const request = send(
        {
          protocol: this.url.protocol,
          hostname: this.url.hostname,
          port: this.url.port,
          method: req.method,
          path: canonicalQuery === '' ? canonicalPath : `${canonicalPath}?${canonicalQuery}`,
          headers,
          agent: this.agent,
          timeout: 60_000,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => {
            const out = Buffer.concat(chunks);
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: out, text: out.toString('utf8') });
          });
          res.on('error', reject);
        },
      );
      request.on('timeout', () => request.destroy(new Error(`${req.method} ${req.path}: no answer within 60 s`)));
      request.on('error', reject);
      request.end(req.body);
    });
  }
}

/** Every `<name>...</name>` value in an XML document, entity-decoded (enough for S3's response documents). */
export function xmlValues(xml: string, name: string): string[] {
  return [...xml.matchAll(new RegExp(`<${name}>([\\s\\S]*?)</${name}>`, 'g'))].map((m) =>
    (m[1] ?? '').replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&apos;/g, "'").replace(/&amp;/g, '&'),
  );
}

const CRC32C_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n += 1) {
    let c = n;
    for (let k = 0; k < 8; k += 1) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC32C (Castagnoli) of `data`, as the 4 big-endian bytes S3 base64-encodes. */
export function crc32c(data: Uint8Array): Buffer {
  let crc = 0xffffffff;
  for (let i = 0; i < data.length; i += 1) crc = (CRC32C_TABLE[(crc ^ (data[i] as number)) & 0xff] as number) ^ (crc >>> 8);
  const out = Buffer.alloc(4);
  out.writeUInt32BE((crc ^ 0xffffffff) >>> 0);
  return out;
}

/** `data` framed as aws-chunked with unsigned chunks and one trailer: `hex(size)\r\n data \r\n ... 0\r\n name:value\r\n\r\n`. */
export function unsignedTrailerBody(data: Buffer, chunkBytes: number, trailer: readonly [string, string]): Buffer {
  const parts: Buffer[] = [];
  for (let pos = 0; pos < data.length; pos += chunkBytes) {
    const chunk = data.subarray(pos, pos + chunkBytes);
    parts.push(Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n'));
  }
  parts.push(Buffer.from(`0\r\n${trailer[0]}:${trailer[1]}\r\n\r\n`));
  return Buffer.concat(parts);
}
