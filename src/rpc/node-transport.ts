import type { Readable } from 'node:stream';
import { Pool, errors as undiciErrors } from 'undici';
import type { Dispatcher } from 'undici';
import type { Static, TSchema } from 'typebox';
import { AnswerTooLargeError, bufferedRequest, type BufferedResponse } from './buffered-request.js';
import type { EncodedCommit } from './encoded-commit.js';
import { LatencyEstimator } from './latency-estimator.js';
import { LinkRefusal } from './link-messages.js';
import type { LocalLink } from './local-link.js';
import { DEFAULTS, type SchemaCheck } from '../common/index.js';
import { MESSAGE_CHECKS } from './message-checks.js';
import type { NodeClientOptions } from './node-client.js';
import type { BatchResponse, PrepareResponse } from './protocol.js';
import { MAX_RING_DOCUMENT_BYTES, gunzipRingDocument, type RingOffer } from './ring-document.js';
import { ANY_NODE, UNSIGNED_BODY, bodySha256, signRequest } from './signing.js';
import { NodeError, isWireErrorCode, wireCodeForStatus } from './wire-errors.js';

/** What every call to a node takes: the signal that ends it (its deadline, a client gone). */
export interface CallOptions {
  signal?: AbortSignal | undefined;
}

/**
 * How requests to one node travel: signed HTTP through a keep-alive pool, or the node's in-process
 * link. Either way each request is timed (the node's latency), counted (`observe`), and fails as a
 * NodeError; NodeClient says what to ask, this says how it gets there.
 */
export class NodeTransport {
  private readonly nodeId: string;
  private readonly pool: Pool;
  private readonly secret: string;
  /** The node every request is signed for: its id, or ANY_NODE. */
  private readonly audience: string;
  private readonly clock: () => number;
  private readonly observe: ((outcome: string, seconds: number) => void) | undefined;
  /** How long this node takes to answer a call, learned from its answers; deadlines follow it. */
  readonly latency = new LatencyEstimator();

  constructor(options: NodeClientOptions) {
    this.nodeId = options.nodeId;
    this.observe = options.observe;
    this.secret = options.clusterSecret;
    this.audience = options.idUnknown === true ? ANY_NODE : options.nodeId;
    this.clock = options.clock ?? Date.now;
    this.pool = new Pool(`http://${options.address}`, {
      connections: options.connections ?? DEFAULTS.nodeConnections,
      keepAliveTimeout: DEFAULTS.nodeKeepAliveMs,
      headersTimeout: options.headersTimeoutMs ?? DEFAULTS.nodeHeadersTimeoutMs,
      bodyTimeout: options.bodyTimeoutMs ?? DEFAULTS.nodeBodyTimeoutMs,
      connectTimeout: options.connectTimeoutMs ?? DEFAULTS.nodeConnectTimeoutMs,
    });
  }

  /** Closes the connection pool. */
  async close(): Promise<void> {
    await this.pool.close();
  }

  /** A batch over the node's in-process link: timed, counted and failed as the same request over HTTP. */
  async linkBatch(link: LocalLink, text: string, signal: AbortSignal): Promise<BatchResponse> {
    const answer = await this.overLink(() => link.batch(text, signal), signal);
    return this.parsedAnswer(MESSAGE_CHECKS.batchAnswer, answer);
  }

  /** A shard read over the node's in-process link, as GET /v1/shards: its body's chunks come as the node reads them. */
  async linkRead(link: LocalLink, query: string, options: CallOptions): Promise<Readable> {
    return (await this.overLink(() => link.read(query, options.signal), options.signal)).body;
  }

  /** A shard upload over the node's in-process link, as PUT /v1/shards; its answer is checked as that route's. */
  async linkUpload(link: LocalLink, query: string, body: Readable, options: CallOptions): Promise<PrepareResponse> {
    // An upload's answer follows its whole body: that is throughput, not the node's latency.
    const answer = await this.overLink(() => link.upload(query, body, options.signal), options.signal, { latency: false });
    return this.parsedAnswer(MESSAGE_CHECKS.prepared, answer);
  }

  /** A request over the in-process link, timed to its first answer and counted, its failures NodeErrors as over HTTP. */
  async overLink<T>(request: () => Promise<T>, signal: AbortSignal | undefined, timing: { latency: boolean } = { latency: true }): Promise<T> {
    const startedMs = performance.now();
    let answer: T;
    try {
      answer = await request();
    } catch (err) {
      if (!(err instanceof LinkRefusal)) throw this.failed(err, signal, startedMs);
      const failure = new NodeError(err.code, this.nodeId, err.message);
      this.observe?.(failure.code, (performance.now() - startedMs) / 1000);
      throw failure;
    }
    if (timing.latency) this.latency.observe(performance.now() - startedMs);
    this.observe?.('ok', (performance.now() - startedMs) / 1000);
    return answer;
  }

  /**
   * Sends a request and parses its JSON answer; with `check`, an answer that is not that message is
   * the node's failure (Internal), like any other wrong answer. Without one the answer is ignored
   * (acknowledgements) or left to its own parser (ring documents).
   */
  async json<T extends TSchema>(check: SchemaCheck<T>, method: Dispatcher.HttpMethod, url: string, body: RequestBody, options: CallOptions): Promise<Static<T>>;
  async json(check: null, method: Dispatcher.HttpMethod, url: string, body: RequestBody, options: CallOptions): Promise<unknown>;
  async json<T extends TSchema>(check: SchemaCheck<T> | null, method: Dispatcher.HttpMethod, url: string, body: RequestBody, options: CallOptions): Promise<unknown> {
    const text = body.stream === undefined ? (await this.exchange(method, url, body, options)).toString('utf8') : await (await this.send(method, url, body, options)).body.text();
    const value = this.parsedBody(text);
    return check === null ? value : this.answer(check, value);
  }

  /** An answer's JSON text parsed (an empty body is undefined); text that is not JSON is the node's fault. */
  private parsedBody(text: string): unknown {
    try {
      return text.length === 0 ? undefined : JSON.parse(text);
    } catch (err) {
      throw new NodeError('Internal', this.nodeId, 'node answered with a body that is not JSON', { cause: err });
    }
  }

  /**
   * A ring document (GET), asked for gzipped and inflated here, read whole but never past
   * MAX_RING_DOCUMENT_BYTES either way; parsed, not checked (the ring has its own parser). A node of
   * an earlier release answers plain JSON, which is taken too.
   */
  async ringDocument(url: string, options: CallOptions): Promise<unknown> {
    const headers = { 'accept-encoding': 'gzip' };
    let answer: Buffer;
    let contentEncoding: string | undefined;
    try {
      ({ body: answer, contentEncoding } = await this.exchangeWhole('GET', url, {}, options, { headers, maxBodyBytes: MAX_RING_DOCUMENT_BYTES }));
    } catch (err) {
      if (err instanceof NodeError && err.cause instanceof AnswerTooLargeError) throw new NodeError('Internal', this.nodeId, err.cause.message, { cause: err.cause });
      throw err;
    }
    let text: string;
    if (contentEncoding === undefined || contentEncoding === 'identity') text = answer.toString('utf8');
    else if (contentEncoding === 'gzip') {
      try {
        text = await gunzipRingDocument(answer);
      } catch (err) {
        throw new NodeError('Internal', this.nodeId, `node sent a ring document that could not be inflated: ${(err as Error).message}`, { cause: err });
      }
    } else throw new NodeError('Internal', this.nodeId, `node answered in an encoding not asked for: ${JSON.stringify(contentEncoding)}`);
    return this.parsedBody(text);
  }

  /** A JSON answer that came over the link, parsed and checked as the same answer over HTTP. */
  parsedAnswer<T extends TSchema>(check: SchemaCheck<T>, text: string): Static<T> {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      throw new NodeError('Internal', this.nodeId, 'node answered with a body that is not JSON', { cause: err });
    }
    return this.answer(check, value);
  }

  /** A node's answer as the message it must be. */
  answer<T extends TSchema>(check: SchemaCheck<T>, value: unknown): Static<T> {
    return check.parse(value, (problem) => new NodeError('Internal', this.nodeId, `node sent a malformed ${problem}`));
  }

  /** A request whose answer streams (a shard read) or follows a streamed body (a shard write). */
  async send(
    method: Dispatcher.HttpMethod,
    url: string,
    body: RequestBody,
    options: CallOptions,
  ): Promise<Dispatcher.ResponseData> {
    const { payload, headers } = this.signed(method, url, body);
    let response: Dispatcher.ResponseData;
    const startedMs = performance.now();
    try {
      response = await this.pool.request({
        method,
        path: url,
        headers,
        body: payload ?? null,
        signal: options.signal ?? null,
      });
    } catch (err) {
      throw this.failed(err, options.signal, startedMs);
    }
    // A streamed upload's answer comes after its whole body: that is throughput, not the node's latency.
    if (body.stream === undefined) this.latency.observe(performance.now() - startedMs);
    if (response.statusCode >= 300) {
      const failure = this.statusError(response.statusCode, await response.body.text().catch(() => ''));
      this.observe?.(failure.code, (performance.now() - startedMs) / 1000);
      throw failure;
    }
    this.observe?.('ok', (performance.now() - startedMs) / 1000);
    return response;
  }

  /** A request with a body in memory whose whole answer is read, without a stream around it (buffered-request.ts). */
  private async exchange(method: Dispatcher.HttpMethod, url: string, body: RequestBody, options: CallOptions): Promise<Buffer> {
    return (await this.exchangeWhole(method, url, body, options, {})).body;
  }

  /** exchange, with headers of the caller's and a bound on the answer's length; answers with its encoding too. */
  private async exchangeWhole(
    method: Dispatcher.HttpMethod,
    url: string,
    body: RequestBody,
    options: CallOptions,
    extra: { headers?: Record<string, string>; maxBodyBytes?: number },
  ): Promise<BufferedResponse> {
    const { payload, headers } = this.signed(method, url, body);
    Object.assign(headers, extra.headers);
    const startedMs = performance.now();
    let response: BufferedResponse;
    try {
      response = await bufferedRequest(
        this.pool,
        { method, path: url, headers, body: payload ?? null },
        options.signal,
        () => this.latency.observe(performance.now() - startedMs),
        extra.maxBodyBytes,
      );
    } catch (err) {
      throw this.failed(err, options.signal, startedMs);
    }
    if (response.statusCode >= 300) {
      const failure = this.statusError(response.statusCode, response.body.toString('utf8'));
      this.observe?.(failure.code, (performance.now() - startedMs) / 1000);
      throw failure;
    }
    this.observe?.('ok', (performance.now() - startedMs) / 1000);
    return response;
  }

  /** A request's body and its signed headers. */
  private signed(method: Dispatcher.HttpMethod, url: string, body: RequestBody): { payload: string | Buffer | Readable | undefined; headers: Record<string, string> } {
    let payload: string | Buffer | Readable | undefined;
    let bodyHash: string;
    const headers: Record<string, string> = {};
    if (body.encoded !== undefined) {
      payload = body.encoded.text;
      bodyHash = body.encoded.sha256;
      headers['content-type'] = 'application/json';
    } else if (body.ring !== undefined) {
      payload = body.ring.body;
      bodyHash = body.ring.sha256;
      headers['content-type'] = 'application/json';
      if (body.ring.gzipped) headers['content-encoding'] = 'gzip';
    } else if (body.json !== undefined || body.text !== undefined) {
      payload = body.text ?? JSON.stringify(body.json);
      bodyHash = bodySha256(payload);
      headers['content-type'] = 'application/json';
    } else if (body.stream !== undefined) {
      payload = body.stream;
      bodyHash = UNSIGNED_BODY;
      headers['content-type'] = 'application/octet-stream';
    } else {
      bodyHash = bodySha256(undefined);
    }
    Object.assign(headers, signRequest(this.secret, method, url, bodyHash, this.clock(), this.audience));
    return { payload, headers };
  }

  /** A request that failed before its answer, counted and turned into a NodeError. */
  private failed(err: unknown, signal: AbortSignal | undefined, startedMs: number): NodeError {
    this.noteExpiry(err, signal, startedMs);
    const failure = this.transportError(err, signal);
    this.observe?.(failure.code, (performance.now() - startedMs) / 1000);
    return failure;
  }

  /** A call that ran out of time (its deadline or the pool's) tells the estimator the node is slower than it thought. */
  noteExpiry(err: unknown, signal: AbortSignal | undefined, startedMs: number): void {
    const timedOut =
      (signal?.aborted === true && isTimeout(signal.reason)) || err instanceof undiciErrors.HeadersTimeoutError || isTimeout(err);
    if (timedOut) this.latency.expired(performance.now() - startedMs);
  }

  /**
   * A failed request as a NodeError. When the call's deadline ended it, the cause is the deadline's
   * TimeoutError, whatever undici threw (a request aborted while sending its body throws a plain
   * RequestAbortedError): callers tell a slow node from a down one by that cause (isTimeoutFailure).
   */
  transportError(err: unknown, signal: AbortSignal | undefined): NodeError {
    if (err instanceof NodeError) return err;
    const aborted =
      err instanceof undiciErrors.RequestAbortedError || (err instanceof Error && (err.name === 'AbortError' || err.name === 'TimeoutError'));
    const message = aborted ? 'request aborted' : `node unreachable: ${err instanceof Error ? err.message : String(err)}`;
    const cause = aborted && signal?.aborted === true && isTimeout(signal.reason) ? signal.reason : err;
    return new NodeError('Unavailable', this.nodeId, message, { cause });
  }

  /** A node's refusal: its JSON error's code and message, or the status alone when the body is not ours. */
  private statusError(statusCode: number, bodyText: string): NodeError {
    let code = wireCodeForStatus(statusCode);
    let message = `node answered ${statusCode}`;
    try {
      const parsed = JSON.parse(bodyText) as { code?: unknown; message?: unknown };
      if (isWireErrorCode(parsed.code)) code = parsed.code;
      if (typeof parsed.message === 'string') message = parsed.message;
    } catch {
      // A body that is not our JSON error: the status alone decides.
    }
    return new NodeError(code, this.nodeId, message);
  }
}

/** A request's body: JSON (as a value, as text, or encoded once for many nodes) or a stream. */
export interface RequestBody {
  json?: unknown;
  /** A JSON body already serialised. */
  text?: string;
  /** A JSON body already serialised and hashed. */
  encoded?: EncodedCommit;
  /** A ring document as encodeRingOffer made it (gzipped when large). */
  ring?: RingOffer;
  stream?: Readable;
}

function isTimeout(reason: unknown): boolean {
  return (reason instanceof Error || reason instanceof DOMException) && reason.name === 'TimeoutError';
}
