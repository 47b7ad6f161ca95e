import type { Readable } from 'node:stream';
import type { MessagePort } from 'node:worker_threads';
import { LinkBody } from './link-body.js';
import { READ_MESSAGE_BYTES, WINDOW_BYTES, type LinkAnswer, type LinkRequest } from './link-messages.js';

/** An opened shard read, as a node's link serves it. `end` is called once, when the read is over either way. */
export interface LinkRead {
  sizeBytes: number;
  /** The shard's chunks; each may be reused by the reader once the next is asked for. */
  chunks: AsyncIterator<Uint8Array>;
  end: () => void;
}

/** What a node's end of a link serves: its batch route and its shard reads, with their refusals. */
export interface LinkService {
  /**
   * The batch route: JSON text in, JSON text out; a refusal is thrown. The signal aborts when the
   * caller cancels or goes away, as a request's does.
   */
  batch(text: string, signal: AbortSignal): Promise<string>;
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

/** The node's end of one link: its service, the reads it is sending and uploads it is taking, and how it answers. */
interface NodeEnd {
  service: LinkService;
  reads: Map<number, ReadState>;
  uploads: Map<number, { body: LinkBody; abort: AbortController }>;
  answer: (message: LinkAnswer, transfer?: ArrayBuffer[]) => void;
  refuse: (id: number, err: unknown) => void;
}

/** Serves a link's requests with `service`. Returns a function that closes the node's end. */
export function serveLocalLink(port: MessagePort, service: LinkService): () => void {
  const reads = new Map<number, ReadState>();
  const uploads = new Map<number, { body: LinkBody; abort: AbortController }>();
  /** Batches being served, by request id: a cancel aborts what is left of one. */
  const batches = new Map<number, AbortController>();
  const answer = (message: LinkAnswer, transfer: ArrayBuffer[] = []): void => port.postMessage(message, transfer);
  const refuse = (id: number, err: unknown): void => answer({ id, ...service.refusal(err) });

  const node: NodeEnd = { service, reads, uploads, answer, refuse };

  port.on('message', (request: LinkRequest) => {
    switch (request.kind) {
      case 'batch': {
        const cancel = new AbortController();
        batches.set(request.id, cancel);
        service
          .batch(request.text, cancel.signal)
          .then(
            (text) => answer({ id: request.id, text }),
            (err: unknown) => refuse(request.id, err),
          )
          .finally(() => batches.delete(request.id));
        return;
      }
      case 'read': {
        const state: ReadState = { sentBytes: 0, creditBytes: 0, cancelled: false, wake: undefined };
        reads.set(request.id, state);
        void sendRead(node, request.id, request.query, state);
        return;
      }
      case 'upload':
        takeUpload(node, request.id, request.query);
        return;
      case 'data':
        uploads.get(request.id)?.body.deliver(request.chunk);
        return;
      case 'end':
        uploads.get(request.id)?.body.finish();
        return;
      case 'credit':
      case 'cancel': {
        if (request.kind === 'cancel') batches.get(request.id)?.abort(new Error('batch cancelled by its sender'));
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
    for (const cancel of batches.values()) cancel.abort(new Error('the node closed its in-process link'));
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

/** Sends read `id`: its size, then its chunks as its caller grants room for them, then its end or its failure. */
async function sendRead(node: NodeEnd, id: number, query: string, state: ReadState): Promise<void> {
  let opened: LinkRead;
  try {
    opened = await node.service.read(query);
  } catch (err) {
    node.reads.delete(id);
    node.refuse(id, err);
    return;
  }
  try {
    if (state.cancelled) return;
    node.answer({ id, sizeBytes: opened.sizeBytes });
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
        node.answer({ id, chunk: gathered }, [gathered]);
      }
      // What was read before a failure is sent first, as the HTTP route streams it before it cuts the body off.
      if (failure !== undefined) throw failure.err;
      if (gathered === null) break;
    }
    node.answer({ id, end: true });
  } catch (err) {
    node.service.readFailed(err);
    if (!state.cancelled) node.refuse(id, err);
  } finally {
    node.reads.delete(id);
    await opened.chunks.return?.();
    opened.end();
  }
}

/** Takes upload `id`: its chunks fill a body the service stores, and the node grants the caller room as the store takes them. */
function takeUpload(node: NodeEnd, id: number, query: string): void {
  const abort = new AbortController();
  const body = new LinkBody(
    (bytes) => node.answer({ id, credited: bytes }),
    () => abort.abort(),
  );
  node.uploads.set(id, { body, abort });
  node.service.upload(query, body, abort.signal).then(
    (text) => node.answer({ id, text }),
    (err: unknown) => node.refuse(id, err),
  ).finally(() => {
    node.uploads.delete(id);
    // What the store did not take is dropped with the body.
    if (!body.destroyed) body.destroy();
  });
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
