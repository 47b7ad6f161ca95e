import { Readable } from 'node:stream';
import type { MessagePort } from 'node:worker_threads';
import { WireError, isWireErrorCode } from './wire-errors.js';

/**
 * Three node routes reached without HTTP, for a gateway in the same process as its nodes (the embedded
 * default): the batch route (POST /v1/batch), shard reads (GET /v1/shards) and shard uploads (PUT
 * /v1/shards). The requests are the routes' own (the batch's JSON text, the shard's query string) and
 * so are the answers; only the bytes' way differs: a MessagePort instead of a loopback socket. A 4 KiB
 * call costs a few tens of microseconds that way instead of a hundred or more (HTTP framing and
 * parsing on both ends, two kernel copies), and a shard's bytes are handed over in messages of up to a
 * stripe block, copied once, not through two sockets. Either way a stream's sender sends only while its
 * receiver has taken all but a window of what it was sent, as a socket's buffers would hold it.
 * A port is handed over in-process only, by the code that started the node, so it needs no
 * signature: it is the node's own capability, as its data directory is.
 */

/**
 * What a caller sends over a link: a batch, a read, or an upload (its chunks, then its end).
 * `credit`: bytes of a read the caller has taken so far.
 */
type LinkRequest =
  | { kind: 'batch'; id: number; text: string }
  | { kind: 'read'; id: number; query: string }
  | { kind: 'credit'; id: number; bytes: number }
  | { kind: 'upload'; id: number; query: string }
  | { kind: 'data'; id: number; chunk: ArrayBuffer }
  | { kind: 'end'; id: number }
  | { kind: 'cancel'; id: number };

/**
 * What a node answers: a batch's or an upload's JSON answer; a read's size, then its chunks and its
 * end; or the wire error that refused the request (a read's failure once its size was sent).
 * `credited`: bytes of an upload the node has taken so far.
 */
type LinkAnswer =
  | { id: number; text: string }
  | { id: number; sizeBytes: number }
  | { id: number; chunk: ArrayBuffer }
  | { id: number; end: true }
  | { id: number; credited: number }
  | { id: number; code: string; message: string };

/** An upload's sending side: how far the node has taken it, and whether it is over. */
interface UploadFlow {
  creditedBytes: number;
  over: boolean;
  wake: (() => void) | undefined;
}

/** A first answer as the caller takes it: a read's size comes with the body its chunks will fill. */
type Answered = Exclude<LinkAnswer, { sizeBytes: number }> | { id: number; sizeBytes: number; body: LinkBody };

/**
 * Bytes of a stream its sender sends ahead of what its receiver has taken: a stream that is not
 * consumed holds at most this much (plus the receiving stream's own mark), as a socket's buffers
 * bound an HTTP body.
 */
const WINDOW_BYTES = 1024 * 1024;
/** A receiving stream buffers up to this before it stops granting its sender more. */
const HIGH_WATER_BYTES = 256 * 1024;
/**
 * A read sends its chunks gathered into messages of up to this much (a stripe block at the default
 * block size): a message costs both threads a wake-up, its framing and a stream push whatever it
 * carries, and a shard's 64 KiB chunks one by one cost four of them per block.
 */
const READ_MESSAGE_BYTES = 256 * 1024;

/** A request the node refused, or a read it could not finish, with the wire error its HTTP route would have answered. */
export class LinkRefusal extends WireError {}

/** Why calls fail once the node's side of the link is gone (the node closed, its thread ended). */
const CLOSED_MESSAGE = 'the node closed its in-process link';

/** A stream's receiving end: chunks as its sender sends them; taking them grants the sender more. */
class LinkBody extends Readable {
  private receivedBytes = 0;
  private creditedBytes = 0;
  private ended = false;
  private readonly grant: (bytes: number) => void;
  private readonly cancel: () => void;

  constructor(grant: (bytes: number) => void, cancel: () => void) {
    super({ highWaterMark: HIGH_WATER_BYTES });
    this.grant = grant;
    this.cancel = cancel;
  }

  override _read(): void {
    if (this.receivedBytes === this.creditedBytes) return;
    this.creditedBytes = this.receivedBytes;
    this.grant(this.receivedBytes);
  }

  deliver(chunk: ArrayBuffer): void {
    this.receivedBytes += chunk.byteLength;
    this.push(Buffer.from(chunk));
  }

  finish(): void {
    this.ended = true;
    this.push(null);
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    // A body given up before its end stops its sender.
    if (!this.ended) this.cancel();
    callback(err);
  }
}

/** The caller's end of a link: sends requests, matches answers to them. */
export class LocalLink {
  private readonly port: MessagePort;
  private readonly waiting = new Map<number, { answer: (answer: Answered) => void; reject: (err: Error) => void }>();
  private readonly bodies = new Map<number, LinkBody>();
  private readonly uploads = new Map<number, UploadFlow>();
  private nextId = 0;
  private closed = false;

  constructor(port: MessagePort) {
    this.port = port;
    port.on('message', (answer: LinkAnswer) => this.settle(answer));
    port.once('close', () => this.fail(new Error(CLOSED_MESSAGE)));
    // Waiting callers keep the process alive through their own promises; an idle link does not.
    port.unref();
  }

  /** Sends a batch's JSON text; resolves with the node's JSON answer. */
  async batch(text: string, signal?: AbortSignal): Promise<string> {
    const answer = await this.request((id) => ({ kind: 'batch', id, text }), signal);
    if (!('text' in answer)) throw new LinkRefusal('Internal', 'the node answered a batch with something else');
    return answer.text;
  }

  /**
   * Opens a shard read (the shard route's query string); resolves with its size once the node has
   * checked the shard and its first chunk, as the route's status comes. The body ends early, with the
   * node's error, when a later chunk fails its checks; an aborted signal destroys it.
   */
  async read(query: string, signal?: AbortSignal): Promise<{ sizeBytes: number; body: Readable }> {
    const answer = await this.request((id) => ({ kind: 'read', id, query }), signal);
    if (!('body' in answer)) throw new LinkRefusal('Internal', 'the node answered a read with something else');
    const { body } = answer;
    if (signal !== undefined) {
      const onAbort = (): void => {
        body.destroy(abortError());
      };
      if (signal.aborted) onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      body.once('close', () => signal.removeEventListener('abort', onAbort));
    }
    return { sizeBytes: answer.sizeBytes, body };
  }

  /**
   * Uploads a shard (the shard route's query string) from `body`, taking each chunk from it only
   * while the node has taken all but a window of what it was sent, so the caller's `read`s follow the
   * node's disk as they follow a socket. Resolves with the node's JSON answer once the shard is
   * durable; an aborted signal, or a failed body, cancels the upload.
   */
  async upload(query: string, body: Readable, signal?: AbortSignal): Promise<string> {
    if (this.closed) throw new Error(CLOSED_MESSAGE);
    if (signal?.aborted === true) throw abortError();
    const flow: UploadFlow = { creditedBytes: 0, over: false, wake: undefined };
    let uploadId = -1;
    const answered = this.request((id) => {
      uploadId = id;
      this.uploads.set(id, flow);
      return { kind: 'upload', id, query };
    }, signal);
    const finished = answered.finally(() => {
      this.uploads.delete(uploadId);
      flow.over = true;
      flow.wake?.();
    });
    const sent = this.sendBody(uploadId, body, flow).catch((err: unknown) => {
      // The body failed: the node drops what it took, and the caller hears the body's failure.
      this.post({ kind: 'cancel', id: uploadId });
      throw err;
    });
    const answer = await Promise.race([finished, sent.then(() => finished)]);
    if (!('text' in answer)) throw new LinkRefusal('Internal', 'the node answered an upload with something else');
    return answer.text;
  }

  /** Sends an upload's chunks as its window allows, then its end; stops once the upload is over. */
  private async sendBody(id: number, body: Readable, flow: UploadFlow): Promise<void> {
    let sentBytes = 0;
    for await (const chunk of body as AsyncIterable<Uint8Array>) {
      if (flow.over) return;
      // A copy of its own, transferred: the caller may reuse its buffer once it was read.
      const copy = ownCopy(chunk);
      sentBytes += copy.byteLength;
      if (!this.closed) this.port.postMessage({ kind: 'data', id, chunk: copy } satisfies LinkRequest, [copy]);
      while (!flow.over && sentBytes - flow.creditedBytes >= WINDOW_BYTES) {
        await new Promise<void>((resolve) => (flow.wake = resolve));
        flow.wake = undefined;
      }
    }
    if (!flow.over) this.post({ kind: 'end', id });
  }

  /** Closes the caller's end; calls still waiting and bodies still open fail. */
  close(): void {
    this.port.close();
    this.fail(new Error(CLOSED_MESSAGE));
  }

  /** Sends a request and waits for its first answer. An abort before then cancels it. */
  private request(make: (id: number) => LinkRequest, signal: AbortSignal | undefined): Promise<Answered> {
    if (this.closed) return Promise.reject(new Error(CLOSED_MESSAGE));
    if (signal?.aborted === true) return Promise.reject(abortError());
    const id = this.nextId++;
    return new Promise<Answered>((resolve, reject) => {
      // The node finishes a batch it was sent, as it does an HTTP request whose client went away.
      const onAbort = (): void => {
        this.waiting.delete(id);
        this.post({ kind: 'cancel', id });
        this.quiet();
        reject(abortError());
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      const done = (): void => signal?.removeEventListener('abort', onAbort);
      this.waiting.set(id, {
        answer: (answer) => {
          done();
          if ('code' in answer) reject(new LinkRefusal(isWireErrorCode(answer.code) ? answer.code : 'Internal', answer.message));
          else resolve(answer);
        },
        reject: (err) => {
          done();
          reject(err);
        },
      });
      this.port.ref();
      this.post(make(id));
    });
  }

  private post(request: LinkRequest): void {
    if (!this.closed) this.port.postMessage(request);
  }

  /** Lets the process exit once nothing waits on the link. */
  private quiet(): void {
    if (this.waiting.size === 0 && this.bodies.size === 0) this.port.unref();
  }

  private settle(answer: LinkAnswer): void {
    if ('credited' in answer) {
      const flow = this.uploads.get(answer.id);
      if (flow === undefined) return;
      flow.creditedBytes = Math.max(flow.creditedBytes, answer.credited);
      flow.wake?.();
      return;
    }
    const body = this.bodies.get(answer.id);
    if (body !== undefined) {
      if ('chunk' in answer) return body.deliver(answer.chunk);
      this.bodies.delete(answer.id);
      this.quiet();
      if ('end' in answer) body.finish();
      else if ('code' in answer) body.destroy(new LinkRefusal(isWireErrorCode(answer.code) ? answer.code : 'Internal', answer.message));
      return;
    }
    const waiter = this.waiting.get(answer.id);
    if (waiter === undefined) return;
    this.waiting.delete(answer.id);
    // A read's body is registered now, before its first chunk can arrive.
    waiter.answer('sizeBytes' in answer ? { ...answer, body: this.openBody(answer.id) } : answer);
    this.quiet();
  }

  /** The body of read `id`, whose chunks the node is about to send. */
  private openBody(id: number): LinkBody {
    const body = new LinkBody(
      (bytes) => this.post({ kind: 'credit', id, bytes }),
      () => {
        if (this.bodies.delete(id)) this.post({ kind: 'cancel', id });
        this.quiet();
      },
    );
    this.bodies.set(id, body);
    return body;
  }

  private fail(err: Error): void {
    this.closed = true;
    const waiters = [...this.waiting.values()];
    const bodies = [...this.bodies.values()];
    this.waiting.clear();
    this.bodies.clear();
    for (const waiter of waiters) waiter.reject(err);
    for (const body of bodies) body.destroy(err);
  }
}

/** An opened shard read, as a node's link serves it. `end` is called once, when the read is over either way. */
export interface LinkRead {
  sizeBytes: number;
  /** The shard's chunks; each may be reused by the reader once the next is asked for. */
  chunks: AsyncIterator<Uint8Array>;
  end: () => void;
}

/** What a node's end of a link serves: its batch route and its shard reads, with their refusals. */
export interface LinkService {
  /** The batch route: JSON text in, JSON text out; a refusal is thrown. */
  batch(text: string): Promise<string>;
  /** Opens a shard read from the route's query string, its first chunk checked; a refusal is thrown. */
  read(query: string): Promise<LinkRead>;
  /**
   * The shard upload route from its query string: stores `body` and answers the route's JSON. The
   * signal aborts when the caller cancels or goes away, as a request's does; a refusal is thrown.
   */
  upload(query: string, body: Readable, signal: AbortSignal): Promise<string>;
  /** A thrown refusal as its wire code and message. */
  refusal(err: unknown): { code: string; message: string };
  /** Told of a read that failed after its size was sent (its caller sees the body end early). */
  readFailed(err: unknown): void;
}

/** A read the node is sending: how far it got, and how far its caller let it. */
interface ReadState {
  sentBytes: number;
  creditBytes: number;
  cancelled: boolean;
  wake: (() => void) | undefined;
}

/** Serves a link's requests with `service`. Returns a function that closes the node's end. */
export function serveLocalLink(port: MessagePort, service: LinkService): () => void {
  const reads = new Map<number, ReadState>();
  const uploads = new Map<number, { body: LinkBody; abort: AbortController }>();
  const answer = (message: LinkAnswer, transfer: ArrayBuffer[] = []): void => port.postMessage(message, transfer);
  const refuse = (id: number, err: unknown): void => answer({ id, ...service.refusal(err) });

  const sendRead = async (id: number, query: string, state: ReadState): Promise<void> => {
    let opened: LinkRead;
    try {
      opened = await service.read(query);
    } catch (err) {
      reads.delete(id);
      refuse(id, err);
      return;
    }
    try {
      if (state.cancelled) return;
      answer({ id, sizeBytes: opened.sizeBytes });
      const gatherer = new ChunkGatherer(opened.chunks);
      for (;;) {
        while (!state.cancelled && state.sentBytes - state.creditBytes >= WINDOW_BYTES) {
          await new Promise<void>((resolve) => (state.wake = resolve));
        }
        if (state.cancelled) return;
        const { gathered, failure } = await gatherer.next(Math.min(READ_MESSAGE_BYTES, opened.sizeBytes - state.sentBytes), () => state.cancelled);
        // A read cancelled meanwhile sends nothing more: its caller drops it.
        if (gathered !== null && !state.cancelled) {
          state.sentBytes += gathered.byteLength;
          answer({ id, chunk: gathered }, [gathered]);
        }
        // What was read before a failure is sent first, as the HTTP route streams it before it cuts the body off.
        if (failure !== undefined) throw failure.err;
        if (gathered === null) break;
      }
      answer({ id, end: true });
    } catch (err) {
      service.readFailed(err);
      if (!state.cancelled) refuse(id, err);
    } finally {
      reads.delete(id);
      await opened.chunks.return?.();
      opened.end();
    }
  };

  port.on('message', (request: LinkRequest) => {
    switch (request.kind) {
      case 'batch':
        service.batch(request.text).then(
          (text) => answer({ id: request.id, text }),
          (err: unknown) => refuse(request.id, err),
        );
        return;
      case 'read': {
        const state: ReadState = { sentBytes: 0, creditBytes: 0, cancelled: false, wake: undefined };
        reads.set(request.id, state);
        void sendRead(request.id, request.query, state);
        return;
      }
      case 'upload': {
        const { id } = request;
        const abort = new AbortController();
        const body = new LinkBody(
          (bytes) => answer({ id, credited: bytes }),
          () => abort.abort(),
        );
        uploads.set(id, { body, abort });
        service.upload(request.query, body, abort.signal).then(
          (text) => answer({ id, text }),
          (err: unknown) => refuse(id, err),
        ).finally(() => {
          uploads.delete(id);
          // What the store did not take is dropped with the body.
          if (!body.destroyed) body.destroy();
        });
        return;
      }
      case 'data':
        uploads.get(request.id)?.body.deliver(request.chunk);
        return;
      case 'end':
        uploads.get(request.id)?.body.finish();
        return;
      case 'credit':
      case 'cancel': {
        const upload = uploads.get(request.id);
        if (upload !== undefined && request.kind === 'cancel') {
          upload.abort.abort();
          upload.body.destroy(new Error('upload cancelled by its sender'));
          return;
        }
        const state = reads.get(request.id);
        if (state === undefined) return;
        if (request.kind === 'credit') state.creditBytes = Math.max(state.creditBytes, request.bytes);
        else state.cancelled = true;
        state.wake?.();
        state.wake = undefined;
        return;
      }
    }
  });
  // Like a listening socket, an open link does not keep its thread alive on its own.
  port.unref();
  return () => {
    port.close();
    for (const { abort, body } of uploads.values()) {
      abort.abort();
      body.destroy(new Error('the node closed its in-process link'));
    }
    for (const state of reads.values()) {
      state.cancelled = true;
      state.wake?.();
    }
  };
}

/**
 * A read's chunks, gathered into buffers of their own to transfer. The reader may reuse a chunk's memory
 * once the next one is asked for, so every chunk is copied before that. A chunk that does not fit the
 * message being gathered is split: what fits goes now, and the rest (held, not asked past) starts the
 * next, so every message but a read's last is full and none is copied twice.
 */
class ChunkGatherer {
  private readonly chunks: AsyncIterator<Uint8Array>;
  private held: Uint8Array | undefined;

  constructor(chunks: AsyncIterator<Uint8Array>) {
    this.chunks = chunks;
  }

  /**
   * The next message: chunks copied into one buffer until `targetBytes` are gathered (a whole chunk
   * when the read has gone past its size), the read ends, or `stop()` says to. `gathered` is null at
   * the read's end; `failure` is the reader's error, with what it read before it in `gathered`.
   */
  async next(targetBytes: number, stop: () => boolean): Promise<{ gathered: ArrayBuffer | null; failure?: { err: unknown } }> {
    let out: Buffer | undefined;
    let filled = 0;
    let failure: { err: unknown } | undefined;
    while (out === undefined || (filled < out.length && !stop())) {
      let piece = this.held;
      this.held = undefined;
      if (piece === undefined) {
        let next: IteratorResult<Uint8Array>;
        try {
          next = await this.chunks.next();
        } catch (err) {
          failure = { err };
          break;
        }
        if (next.done === true) break;
        piece = next.value;
      }
      out ??= Buffer.allocUnsafeSlow(targetBytes > 0 ? targetBytes : piece.length);
      const take = Math.min(piece.length, out.length - filled);
      out.set(take === piece.length ? piece : piece.subarray(0, take), filled);
      filled += take;
      if (take < piece.length) this.held = piece.subarray(take);
    }
    // Short only at the read's end, at a failure, or when the read stops.
    const gathered = out === undefined ? null : ((filled === out.length ? out.buffer : out.buffer.slice(0, filled)) as ArrayBuffer);
    return failure === undefined ? { gathered } : { gathered, failure };
  }
}

/**
 * `chunk`'s bytes in memory of their own, to transfer. Not zero-filled first (every byte is written
 * at once), so the allocator may hand back memory freed a moment ago instead of fresh pages.
 */
function ownCopy(chunk: Uint8Array): ArrayBuffer {
  const copy = Buffer.allocUnsafeSlow(chunk.length);
  copy.set(chunk);
  return copy.buffer as ArrayBuffer;
}

/** What an aborted call rejects with, as an aborted HTTP request does: the caller reads why from its signal. */
function abortError(): Error {
  return new DOMException('This operation was aborted', 'AbortError');
}
