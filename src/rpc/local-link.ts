import type { MessagePort } from 'node:worker_threads';
import { WireError, isWireErrorCode } from './wire-errors.js';

/**
 * A node's batch route (POST /v1/batch) reached without HTTP, for a gateway in the same process as
 * its nodes (the embedded default). The request and the answer are the route's own JSON text; only
 * the bytes' way differs: a MessagePort instead of a loopback socket, which costs a few tens of
 * microseconds a call instead of a hundred or more (HTTP framing and parsing on both ends, two kernel
 * copies). A port is handed over in-process only, by the code that started the node, so it needs no
 * signature: it is the node's own capability, as its data directory is.
 */

/** A call sent over a link: the batch's JSON text. */
interface LinkRequest {
  id: number;
  text: string;
}

/** A link's answer: the route's JSON answer, or the wire error that refused the whole batch. */
type LinkAnswer = { id: number; text: string } | { id: number; code: string; message: string };

/** A batch the node refused as a whole, with the wire error its HTTP route would have answered. */
export class LinkRefusal extends WireError {}

/** Why calls fail once the node's side of the link is gone (the node closed, its thread ended). */
const CLOSED_MESSAGE = 'the node closed its in-process link';

/** The caller's end of a link: sends batches, matches answers to them. */
export class LocalLink {
  private readonly port: MessagePort;
  private readonly waiting = new Map<number, { resolve: (text: string) => void; reject: (err: Error) => void }>();
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
  batch(text: string, signal?: AbortSignal): Promise<string> {
    if (this.closed) return Promise.reject(new Error(CLOSED_MESSAGE));
    if (signal?.aborted === true) return Promise.reject(abortError());
    const id = this.nextId++;
    return new Promise<string>((resolve, reject) => {
      // The node runs a call it was sent to its end, as it does an HTTP request whose client went away.
      const onAbort = (): void => {
        this.waiting.delete(id);
        reject(abortError());
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      const done = (): void => signal?.removeEventListener('abort', onAbort);
      this.waiting.set(id, {
        resolve: (answer) => {
          done();
          resolve(answer);
        },
        reject: (err) => {
          done();
          reject(err);
        },
      });
      if (this.waiting.size === 1) this.port.ref();
      this.port.postMessage({ id, text } satisfies LinkRequest);
    });
  }

  /** Closes the caller's end; calls still waiting fail. */
  close(): void {
    this.port.close();
    this.fail(new Error(CLOSED_MESSAGE));
  }

  private settle(answer: LinkAnswer): void {
    const waiter = this.waiting.get(answer.id);
    if (waiter === undefined) return;
    this.waiting.delete(answer.id);
    if (this.waiting.size === 0) this.port.unref();
    if ('text' in answer) waiter.resolve(answer.text);
    else waiter.reject(new LinkRefusal(isWireErrorCode(answer.code) ? answer.code : 'Internal', answer.message));
  }

  private fail(err: Error): void {
    this.closed = true;
    const waiters = [...this.waiting.values()];
    this.waiting.clear();
    for (const waiter of waiters) waiter.reject(err);
  }
}

/**
 * Serves a link's batches with `serve` (the batch route's handler: JSON text in, JSON text out, a
 * refusal thrown as an error with a wire `code`). Returns a function that closes the node's end.
 */
export function serveLocalLink(port: MessagePort, serve: (text: string) => Promise<string>, refusal: (err: unknown) => { code: string; message: string }): () => void {
  port.on('message', (request: LinkRequest) => {
    serve(request.text).then(
      (text) => port.postMessage({ id: request.id, text } satisfies LinkAnswer),
      (err: unknown) => port.postMessage({ id: request.id, ...refusal(err) } satisfies LinkAnswer),
    );
  });
  // Like a listening socket, an open link does not keep its thread alive on its own.
  port.unref();
  return () => port.close();
}

/** What an aborted call rejects with, as an aborted HTTP request does: the caller reads why from its signal. */
function abortError(): Error {
  return new DOMException('This operation was aborted', 'AbortError');
}
