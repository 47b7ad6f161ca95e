import type { Readable } from 'node:stream';
import type { MessagePort } from 'node:worker_threads';
import { LinkBody } from './link-body.js';
import { CLOSED_MESSAGE, LinkRefusal, WINDOW_BYTES, type LinkAnswer, type LinkRequest } from './link-messages.js';
import { isWireErrorCode } from './wire-errors.js';

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

/** An upload's sending side: how far the node has taken it, and whether it is over. */
interface UploadFlow {
  creditedBytes: number;
  over: boolean;
  wake: (() => void) | undefined;
}

/** A first answer as the caller takes it: a read's size comes with the body its chunks will fill. */
type Answered = Exclude<LinkAnswer, { sizeBytes: number }> | { id: number; sizeBytes: number; body: LinkBody };

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
      // The node stops what it only reads for the batch (digests) and finishes its writes, as it does
      // for an HTTP request whose client went away.
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
