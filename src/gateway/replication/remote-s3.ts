import { createHash } from 'node:crypto';
import * as http from 'node:http';
import * as https from 'node:https';
import { pipeline } from 'node:stream/promises';
import { crc32 } from 'node:zlib';
import type { S3TargetDefinition } from '../../events/index.js';
import { canonicalQuery, uriEncode } from '../auth/index.js';
import { parseXml, renderXml } from '../s3/index.js';
import { errorOfAnswer, RemoteError } from './remote-error.js';
import { amzDateOf, RequestSigner } from './request-signer.js';

/** The store a RemoteS3 writes to: an s3 target's definition, without its type tag. */
export type RemoteS3Target = Omit<S3TargetDefinition, 'type'>;

/** Limits of one RemoteS3. */
export interface RemoteS3Options {
  /** Longest a request may go without progress: connecting, sending a body chunk, waiting for the answer, reading it. */
  timeoutMs?: number;
  /** Most connections open to the store at once. */
  maxSockets?: number;
}

/** A request body streamed as it is read: its chunks and exactly how many bytes they add up to. */
export interface StreamedBody {
  chunks: AsyncIterable<Uint8Array>;
  sizeBytes: number;
}

/** What every call takes: its cancellation, and request headers to add (metadata, lock, tagging, x-tessera-*). */
export interface RemoteCall {
  signal: AbortSignal;
  headers?: Readonly<Record<string, string>>;
}

/** A call on one version of a key: the current one when versionId is absent. */
export interface RemoteVersionCall extends RemoteCall {
  versionId?: string;
}

/** What a write answered: the ETag (quoted, as S3 sends it) and the version id, when the store gave them. */
export interface RemoteWrite {
  etag: string | undefined;
  versionId: string | undefined;
}

/** What HeadObject answered: the headers, one value each. */
export interface RemoteHead {
  etag: string | undefined;
  versionId: string | undefined;
  sizeBytes: number;
  headers: Record<string, string>;
}

/** Most bytes of an answer's body read: error documents and the small XML results are far shorter. */
export const MAX_ANSWER_BYTES = 64 * 1024;
const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_MAX_SOCKETS = 8;
/** Headers this client writes itself; the same names among a caller's headers are overridden. */
const OWN_HEADERS = new Set(['host', 'authorization', 'x-amz-date', 'x-amz-content-sha256', 'x-amz-decoded-content-length', 'x-amz-trailer', 'content-length', 'transfer-encoding', 'connection']);
/** A header name is an HTTP token; a value is visible latin1 text with spaces and tabs (what node lets through). */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9a-z-]+$/;
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

interface Exchange {
  method: string;
  /** For messages: the operation's S3 name. */
  what: string;
  key: string;
  query?: [string, string][];
  headers?: Readonly<Record<string, string>> | undefined;
  body?: Buffer | StreamedBody;
  signal: AbortSignal;
}

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function header(headers: http.IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

/**
 * The chunks of `body`, counted as they pass: more or fewer bytes than declared fails the upload, and
 * so does a failing source (worth another try: the source's nodes may answer later).
 */
async function* counted(body: StreamedBody, progress: () => void): AsyncGenerator<Uint8Array> {
  const chunks = body.chunks[Symbol.asyncIterator]();
  let sentBytes = 0;
  let finished = false;
  try {
    for (;;) {
      let step: IteratorResult<Uint8Array>;
      try {
        step = await chunks.next();
      } catch (err) {
        finished = true;
        throw new RemoteError({ status: 0, code: 'SourceReadFailed', message: 'reading the body to send failed', retryable: true }, { cause: err });
      }
      if (step.done === true) break;
      sentBytes += step.value.byteLength;
      if (sentBytes > body.sizeBytes) throw lengthMismatch(body.sizeBytes, `more than ${body.sizeBytes}`);
      progress();
      if (step.value.byteLength > 0) yield step.value;
    }
    finished = true;
  } finally {
    // Stopped early (by a refusal, an abort or a length mismatch): let the source release what it holds.
    if (!finished) await chunks.return?.();
  }
  if (sentBytes !== body.sizeBytes) throw lengthMismatch(body.sizeBytes, String(sentBytes));
}

function lengthMismatch(declaredBytes: number, sent: string): RemoteError {
  return new RemoteError({ status: 0, code: 'BodyLengthMismatch', message: `body declared ${declaredBytes} bytes and yielded ${sent}`, retryable: false });
}

/** Bytes of one aws-chunked frame of payload (the last frame of a body may be shorter). */
const FRAME_BYTES = 64 * 1024;
const CRLF = Buffer.from('\r\n', 'latin1');
/**
 * The trailer every streamed body ends with: its CRC32, which the store checks against what it
 * received. CRC32 rather than SHA-256: a resync of 768 MiB spent 2 s of its 5.4 s of CPU hashing.
 */
const CHECKSUM_TRAILER = 'x-amz-checksum-crc32';
/** Base64 of the CRC's four bytes. */
const CHECKSUM_BASE64_CHARS = 8;

/** The aws-chunked length of a body of `sizeBytes`, framed as `framed` frames it: known before the first byte is sent. */
export function framedLength(sizeBytes: number): number {
  const fullFrames = Math.floor(sizeBytes / FRAME_BYTES);
  const lastBytes = sizeBytes % FRAME_BYTES;
  const frameLength = (payloadBytes: number): number => payloadBytes.toString(16).length + 2 + payloadBytes + 2;
  const trailer = `0\r\n${CHECKSUM_TRAILER}:\r\n\r\n`.length + CHECKSUM_BASE64_CHARS;
  return fullFrames * frameLength(FRAME_BYTES) + (lastBytes > 0 ? frameLength(lastBytes) : 0) + trailer;
}

/**
 * `chunks` as an aws-chunked body (STREAMING-UNSIGNED-PAYLOAD-TRAILER): frames of FRAME_BYTES, then a
 * trailer with the CRC32 of the payload. The checksum lets the store refuse bytes damaged on the way
 * (BadDigest) and is the body digest S3 demands of a write that locks its object. A frame's payload is
 * yielded as the pieces it was read in, between its size line and its CRLF: nothing is copied.
 */
async function* framed(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  let crc = 0;
  let pending: Uint8Array[] = [];
  let pendingBytes = 0;
  function* frame(): Generator<Uint8Array> {
    yield Buffer.from(`${pendingBytes.toString(16)}\r\n`, 'latin1');
    yield* pending;
    yield CRLF;
    pending = [];
    pendingBytes = 0;
  }
  for await (const chunk of chunks) {
    crc = crc32(chunk, crc);
    for (let offset = 0; offset < chunk.byteLength; ) {
      const take = Math.min(FRAME_BYTES - pendingBytes, chunk.byteLength - offset);
      pending.push(chunk.subarray(offset, offset + take));
      pendingBytes += take;
      offset += take;
      if (pendingBytes === FRAME_BYTES) yield* frame();
    }
  }
  if (pendingBytes > 0) yield* frame();
  const digest = Buffer.alloc(4);
  digest.writeUInt32BE(crc >>> 0);
  yield Buffer.from(`0\r\n${CHECKSUM_TRAILER}:${digest.toString('base64')}\r\n\r\n`, 'latin1');
}

/** A failure of the transport as a RemoteError: network errors have no status and are worth another try. */
function transportError(err: unknown, what: string): RemoteError {
  if (err instanceof RemoteError) return err;
  const code = (err as { code?: unknown }).code;
  return new RemoteError({ status: 0, code: 'NetworkError', message: `${what} failed: ${typeof code === 'string' ? code : 'connection error'}` }, { cause: err });
}

/**
 * A small S3 client for one replication target: path-style requests to `endpoint/bucket/key`, signed with
 * SigV4 on the gateway's own signing code, over node:http or node:https with one keep-alive agent.
 * Bodies stream with backpressure, aws-chunked with a CRC32 trailer the store checks; answers are read
 * up to MAX_ANSWER_BYTES. Every failure is a RemoteError saying whether a later try may succeed. The
 * secret lives in the signer's private field.
 */
export class RemoteS3 {
  readonly endpoint: string;
  readonly bucket: string;
  readonly #signer: RequestSigner;
  readonly #agent: http.Agent;
  readonly #transport: typeof http | typeof https;
  readonly #hostname: string;
  readonly #port: number | undefined;
  readonly #host: string;
  readonly #basePath: string;
  readonly #timeoutMs: number;

  constructor(target: RemoteS3Target, options: RemoteS3Options = {}) {
    const url = new URL(target.endpoint);
    this.endpoint = target.endpoint;
    this.bucket = target.bucket;
    this.#signer = new RequestSigner(target);
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const secure = url.protocol === 'https:';
    this.#transport = secure ? https : http;
    const agentOptions = { keepAlive: true, maxSockets: options.maxSockets ?? DEFAULT_MAX_SOCKETS };
    this.#agent = secure ? new https.Agent(agentOptions) : new http.Agent(agentOptions);
    this.#hostname = url.hostname.replace(/^\[(.*)\]$/, '$1');
    this.#port = url.port === '' ? undefined : Number(url.port);
    this.#host = url.host;
    // An endpoint below a path (a proxy's prefix) keeps it; canonical form, as the store will see it.
    const prefix = url.pathname.replace(/\/+$/, '');
    this.#basePath = prefix === '' ? '' : prefix.split('/').map((segment) => uriEncode(Buffer.from(decodeURIComponent(segment), 'utf8'), false)).join('/');
  }

  /** PutObject of a streamed body. */
  async putObject(key: string, body: StreamedBody, call: RemoteCall): Promise<RemoteWrite> {
    const answer = await this.#expect({ method: 'PUT', what: 'PutObject', key, headers: call.headers, body, signal: call.signal });
    return writeOf(answer);
  }

  /** CreateMultipartUpload; its upload id. */
  async createMultipartUpload(key: string, call: RemoteCall): Promise<string> {
    const answer = await this.#expect({ method: 'POST', what: 'CreateMultipartUpload', key, query: [['uploads', '']], headers: call.headers, signal: call.signal });
    const uploadId = resultField(answer, 'InitiateMultipartUploadResult', 'UploadId');
    if (uploadId === undefined || uploadId === '') throw new RemoteError({ status: answer.status, code: 'InvalidResponse', message: 'CreateMultipartUpload answered no UploadId' });
    return uploadId;
  }

  /** UploadPart (numbered from 1) of a streamed body; the part's ETag. */
  async uploadPart(key: string, uploadId: string, partNumber: number, body: StreamedBody, call: RemoteCall): Promise<string> {
    const query: [string, string][] = [['partNumber', String(partNumber)], ['uploadId', uploadId]];
    const answer = await this.#expect({ method: 'PUT', what: 'UploadPart', key, query, headers: call.headers, body, signal: call.signal });
    const etag = header(answer.headers, 'etag');
    if (etag === undefined) throw new RemoteError({ status: answer.status, code: 'InvalidResponse', message: `UploadPart ${partNumber} answered no ETag` });
    return etag;
  }

  /** CompleteMultipartUpload of the parts given (number and ETag, in order). */
  async completeMultipartUpload(key: string, uploadId: string, parts: readonly { partNumber: number; etag: string }[], call: RemoteCall): Promise<RemoteWrite> {
    const document = renderXml('CompleteMultipartUpload', { Part: parts.map((part) => ({ PartNumber: part.partNumber, ETag: part.etag })) });
    const answer = await this.#expect({
      method: 'POST',
      what: 'CompleteMultipartUpload',
      key,
      query: [['uploadId', uploadId]],
      headers: call.headers,
      body: Buffer.from(document, 'utf8'),
      signal: call.signal,
    });
    // S3 may answer 200 and fail later in the body.
    if (answer.body.includes('<Error')) throw errorOfAnswer(answer.status, answer.body, 'CompleteMultipartUpload');
    const etag = resultField(answer, 'CompleteMultipartUploadResult', 'ETag');
    return { etag: etag ?? header(answer.headers, 'etag'), versionId: header(answer.headers, 'x-amz-version-id') };
  }

  /** AbortMultipartUpload; an upload the store no longer knows counts as aborted. */
  async abortMultipartUpload(key: string, uploadId: string, call: RemoteCall): Promise<void> {
    const answer = await this.#send({ method: 'DELETE', what: 'AbortMultipartUpload', key, query: [['uploadId', uploadId]], headers: call.headers, signal: call.signal });
    if (answer.status === 404 || (answer.status >= 200 && answer.status < 300)) return;
    throw errorOfAnswer(answer.status, answer.body, 'AbortMultipartUpload');
  }

  /** DeleteObject: of one version when versionId is given, else of the key (a delete marker in a versioned bucket). */
  async deleteObject(key: string, call: RemoteVersionCall): Promise<RemoteWrite & { deleteMarker: boolean }> {
    const answer = await this.#expect({ method: 'DELETE', what: 'DeleteObject', key, query: versionQuery(call), headers: call.headers, signal: call.signal });
    return { ...writeOf(answer), deleteMarker: header(answer.headers, 'x-amz-delete-marker') === 'true' };
  }

  /** PutObjectTagging: replaces the tag set of a version (the current one when versionId is absent). */
  async putObjectTagging(key: string, tags: Readonly<Record<string, string>>, call: RemoteVersionCall): Promise<void> {
    const document = renderXml('Tagging', { TagSet: { Tag: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) } });
    const query: [string, string][] = [['tagging', ''], ...versionQuery(call)];
    await this.#expect({ method: 'PUT', what: 'PutObjectTagging', key, query, headers: call.headers, body: Buffer.from(document, 'utf8'), signal: call.signal });
  }

  /** DeleteObjectTagging: empties the tag set of a version. */
  async deleteObjectTagging(key: string, call: RemoteVersionCall): Promise<void> {
    const query: [string, string][] = [['tagging', ''], ...versionQuery(call)];
    await this.#expect({ method: 'DELETE', what: 'DeleteObjectTagging', key, query, headers: call.headers, signal: call.signal });
  }

  /** HeadObject; undefined when the store answers 404 (no such key or version). */
  async headObject(key: string, call: RemoteVersionCall): Promise<RemoteHead | undefined> {
    const answer = await this.#send({ method: 'HEAD', what: 'HeadObject', key, query: versionQuery(call), headers: call.headers, signal: call.signal });
    if (answer.status === 404) return undefined;
    if (answer.status < 200 || answer.status >= 300) throw errorOfAnswer(answer.status, answer.body, 'HeadObject');
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(answer.headers)) if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(',') : value;
    return { ...writeOf(answer), sizeBytes: Number(headers['content-length'] ?? 0), headers };
  }

  /** Closes the kept-alive connections. */
  close(): void {
    this.#agent.destroy();
  }

  /** What a logger sees: where, never the secret. */
  toJSON(): { endpoint: string; bucket: string; signer: ReturnType<RequestSigner['toJSON']> } {
    return { endpoint: this.endpoint, bucket: this.bucket, signer: this.#signer.toJSON() };
  }

  async #expect(exchange: Exchange): Promise<Answer> {
    const answer = await this.#send(exchange);
    if (answer.status < 200 || answer.status >= 300) throw errorOfAnswer(answer.status, answer.body, exchange.what);
    return answer;
  }

  /** One signed request and its answer, whatever the status; a RemoteError when none came. */
  #send(exchange: Exchange): Promise<Answer> {
    const { signal, what, body } = exchange;
    if (signal.aborted) return Promise.reject(aborted(what, signal));
    const path = `${this.#basePath}/${uriEncode(Buffer.from(this.bucket, 'utf8'), false)}/${uriEncode(Buffer.from(exchange.key, 'utf8'), true)}`;
    const query = canonicalQuery(exchange.query ?? []);
    const headers: Record<string, string> = {};
    for (const [rawName, value] of Object.entries(exchange.headers ?? {})) {
      const name = rawName.toLowerCase();
      if (!HEADER_NAME.test(name) || !HEADER_VALUE.test(value)) {
        return Promise.reject(new RemoteError({ status: 0, code: 'InvalidHeader', message: `${what}: header ${JSON.stringify(name.slice(0, 64))} cannot be sent`, retryable: false }));
      }
      if (!OWN_HEADERS.has(name)) headers[name] = value;
    }
    const streamed = body !== undefined && !Buffer.isBuffer(body);
    const payloadHash = body === undefined ? sha256Hex(Buffer.alloc(0)) : Buffer.isBuffer(body) ? sha256Hex(body) : 'STREAMING-UNSIGNED-PAYLOAD-TRAILER';
    const amzDate = amzDateOf(Date.now());
    headers['host'] = this.#host;
    headers['x-amz-date'] = amzDate;
    headers['x-amz-content-sha256'] = payloadHash;
    if (streamed) {
      // The framing is not the object's encoding: the store strips aws-chunked and keeps the rest.
      headers['content-encoding'] = headers['content-encoding'] === undefined ? 'aws-chunked' : `aws-chunked,${headers['content-encoding']}`;
      headers['x-amz-decoded-content-length'] = String(body.sizeBytes);
      headers['x-amz-trailer'] = CHECKSUM_TRAILER;
    }
    headers['authorization'] = this.#signer.authorization({ method: exchange.method, path, query, headers, payloadHash, amzDate });
    if (body !== undefined) headers['content-length'] = String(Buffer.isBuffer(body) ? body.length : framedLength(body.sizeBytes));
    else if (exchange.method === 'POST' || exchange.method === 'PUT') headers['content-length'] = '0';

    return new Promise<Answer>((resolve, reject) => {
      let settled = false;
      let timer: NodeJS.Timeout | undefined;
      const finish = (err: RemoteError | undefined, answer?: Answer): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        if (err !== undefined) reject(err);
        else resolve(answer as Answer);
      };
      const req = this.#transport.request({
        hostname: this.#hostname,
        ...(this.#port === undefined ? {} : { port: this.#port }),
        method: exchange.method,
        path: query === '' ? path : `${path}?${query}`,
        headers,
        agent: this.#agent,
        setHost: false,
      });
      // One watchdog for the whole exchange, pushed back by every sign of progress.
      const progress = (): void => {
        if (settled) return;
        clearTimeout(timer);
        timer = setTimeout(() => fail(new RemoteError({ status: 0, code: 'Timeout', message: `${what} made no progress for ${this.#timeoutMs} ms` })), this.#timeoutMs);
      };
      // Settled here rather than by the request's 'error': a request destroyed before it has a socket may never emit one.
      const fail = (err: RemoteError): void => {
        finish(err);
        req.destroy(err);
      };
      const onAbort = (): void => fail(aborted(what, signal));
      signal.addEventListener('abort', onAbort, { once: true });
      progress();
      req.on('error', (err) => finish(transportError(err, what)));

      let bodySent: Promise<void>;
      let bodyFinished = false;
      if (body === undefined || Buffer.isBuffer(body)) {
        req.end(body);
        bodySent = Promise.resolve();
        bodyFinished = true;
      } else {
        bodySent = pipeline(framed(counted(body, progress)), req);
        bodySent.then(
          () => void (bodyFinished = true),
          (err: unknown) => fail(transportError(err, what)),
        );
      }

      req.on('response', (res) => {
        progress();
        const chunks: Buffer[] = [];
        let readBytes = 0;
        let answered = false;
        const done = (): void => {
          if (answered) return;
          answered = true;
          const answer = { status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') };
          if (answer.status >= 200 && answer.status < 300) {
            // A store that says yes before it has the whole body has not stored it: wait for the body to go.
            bodySent.then(
              () => finish(undefined, answer),
              (err: unknown) => finish(transportError(err, what)),
            );
          } else {
            // Refused: stop sending (the connection cannot be reused mid-body) and report the answer.
            finish(undefined, answer);
            if (!bodyFinished) req.destroy();
          }
        };
        res.on('data', (chunk: Buffer) => {
          if (answered) return;
          progress();
          const room = MAX_ANSWER_BYTES - readBytes;
          chunks.push(chunk.length > room ? chunk.subarray(0, room) : chunk);
          readBytes += Math.min(chunk.length, room);
          if (chunk.length >= room) {
            // Enough read: the rest of an overlong answer is dropped with its connection.
            done();
            res.destroy();
          }
        });
        res.on('end', done);
        res.on('error', (err) => finish(transportError(err, what)));
      });
    });
  }
}

function aborted(what: string, signal: AbortSignal): RemoteError {
  return new RemoteError({ status: 0, code: 'Aborted', message: `${what} was cancelled` }, { cause: signal.reason });
}

function sha256Hex(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function versionQuery(call: RemoteVersionCall): [string, string][] {
  return call.versionId === undefined ? [] : [['versionId', call.versionId]];
}

function writeOf(answer: Answer): RemoteWrite {
  return { etag: header(answer.headers, 'etag'), versionId: header(answer.headers, 'x-amz-version-id') };
}

/** One text field of a result document, or undefined when the body is not that document. */
function resultField(answer: Answer, root: string, field: string): string | undefined {
  try {
    const document = parseXml(answer.body)[root];
    if (typeof document !== 'object' || document === null) return undefined;
    const value = (document as Record<string, unknown>)[field];
    return typeof value === 'string' ? value : undefined;
  } catch {
    return undefined;
  }
}
