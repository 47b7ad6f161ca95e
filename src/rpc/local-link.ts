import { Readable } from 'node:stream';
import type { MessagePort } from 'node:worker_threads';
import { WireError, isWireErrorCode } from './wire-errors.js';

/**
 * Two node routes reached without HTTP, for a gateway in the same process as its nodes (the embedded
 * default): the batch route (POST /v1/batch) and shard reads (GET /v1/shards). The requests are the
 * routes' own (the batch's JSON text, the read's query string) and so are the answers; only the
 * bytes' way differs: a MessagePort instead of a loopback socket. A 4 KiB call costs a few tens of
 * microseconds that way instead of a hundred or more (HTTP framing and parsing on both ends, two
 * kernel copies), and a shard read's chunks are handed over whole, not copied through two sockets.
 * A port is handed over in-process only, by the code that started the node, so it needs no
 * signature: it is the node's own capability, as its data directory is.
 */

/** What a caller sends over a link. `credit`: bytes of a read the caller has taken so far. */
type LinkRequest =
  | { kind: 'batch'; id: number; text: string }
  | { kind: 'read'; id: number; query: string }
  | { kind: 'credit'; id: number; bytes: number }
  | { kind: 'cancel'; id: number };

/**
 * What a node answers: a batch's JSON answer; a read's size, then its chunks and its end; or the
 * wire error that refused the request (a read's failure once its size was sent).
 */
type LinkAnswer =
  | { id: number; text: string }
  | { id: number; sizeBytes: number }
  | { id: number; chunk: ArrayBuffer }
  | { id: number; end: true }
  | { id: number; code: string; message: string };

/** A first answer as the caller takes it: a read's size comes with the body its chunks will fill. */
type Answered = Exclude<LinkAnswer, { sizeBytes: number }> | { id: number; sizeBytes: number; body: LinkReadBody };

/**
 * Bytes of a read a node sends ahead of what its caller has taken: a read that is not consumed holds
 * at most this much (plus the stream's own mark) in the caller, as a socket's buffers bound an HTTP read.
 */
const READ_WINDOW_BYTES = 1024 * 1024;
/** The caller's stream buffers up to this before it stops granting the node more. */
const READ_HIGH_WATER_BYTES = 256 * 1024;

/** A request the node refused, or a read it could not finish, with the wire error its HTTP route would have answered. */
export class LinkRefusal extends WireError {}

/** Why calls fail once the node's side of the link is gone (the node closed, its thread ended). */
const CLOSED_MESSAGE = 'the node closed its in-process link';

/** A shard read's body: chunks as the node sends them; taking them grants the node more. */
class LinkReadBody extends Readable {
  private receivedBytes = 0;
  private creditedBytes = 0;
  private ended = false;
  private readonly grant: (bytes: number) => void;
  private readonly cancel: () => void;

  constructor(grant: (bytes: number) => void, cancel: () => void) {
    super({ highWaterMark: READ_HIGH_WATER_BYTES });
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
    // A body given up before its end stops the node's read.
    if (!this.ended) this.cancel();
    callback(err);
  }
}

/** The caller's end of a link: sends requests, matches answers to them. */
export class LocalLink {
  private readonly port: MessagePort;
  private readonly waiting = new Map<number, { answer: (answer: Answered) => void; reject: (err: Error) => void }>();
  private readonly bodies = new Map<number, LinkReadBody>();
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
  private openBody(id: number): LinkReadBody {
    const body = new LinkReadBody(
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
      for (;;) {
        while (!state.cancelled && state.sentBytes - state.creditBytes >= READ_WINDOW_BYTES) {
          await new Promise<void>((resolve) => (state.wake = resolve));
        }
        if (state.cancelled) return;
        const next = await opened.chunks.next();
        if (next.done === true) break;
        // A copy of its own for the caller: the reader reuses its buffer for the next chunk.
        const copy = new Uint8Array(next.value.length);
        copy.set(next.value);
        state.sentBytes += copy.length;
        answer({ id, chunk: copy.buffer }, [copy.buffer]);
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
      case 'credit':
      case 'cancel': {
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
    for (const state of reads.values()) {
      state.cancelled = true;
      state.wake?.();
    }
  };
}

/** What an aborted call rejects with, as an aborted HTTP request does: the caller reads why from its signal. */
function abortError(): Error {
  return new DOMException('This operation was aborted', 'AbortError');
}
