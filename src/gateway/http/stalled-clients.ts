import type { Server } from 'node:http';
import type { Socket } from 'node:net';

/** What is done about clients that stop taking their responses. */
export interface StalledClientLimits {
  /** How long a connection may hold response bytes its client takes none of before it is closed. */
  timeoutMs: number;
  /** Told of each connection closed for it, just before it is destroyed. */
  onCut?: ((socket: Socket) => void) | undefined;
}

/** Where a connection's sending stood at the last sweep that saw it move (or have nothing to send). */
interface SendMark {
  acceptedBytes: number;
  queuedBytes: number | undefined;
  sinceMs: number;
}

/**
 * Closes connections whose client stopped reading: a response waiting on a client that takes none of
 * its bytes for `timeoutMs` has its socket destroyed, so its turn at the gate, its buffers and (through
 * the request's abort signal) its node reads are given back. A client that never reads would otherwise
 * hold them for ever: Node has no send timeout, and an idle timeout would also cut a connection that is
 * waiting on the nodes, not on its client. Progress is what the kernel takes, not the whole transfer's
 * pace, so a slow reader that keeps reading is served to the end; but the kernel takes more only once a
 * share of the socket's send buffer (up to a few MiB on a fast link) has drained, so a reader must take
 * about that much per `timeoutMs`. One sweep timer for every connection of the server, none per request.
 * Returns the function that stops watching.
 */
export function cutStalledClients(server: Server, event: 'connection' | 'secureConnection', limits: StalledClientLimits): () => void {
  const marks = new Map<Socket, SendMark>();
  const onConnection = (socket: Socket): void => {
    marks.set(socket, markOf(socket, performance.now()));
    socket.once('close', () => marks.delete(socket));
  };
  server.on(event, onConnection);
  const sweep = (): void => {
    const nowMs = performance.now();
    for (const [socket, mark] of marks) {
      // Nothing waiting for the client: whatever the connection waits on is the gateway's, not the client's.
      if (socket.writableLength === 0 || moved(socket, mark)) {
        marks.set(socket, markOf(socket, nowMs));
        continue;
      }
      if (nowMs - mark.sinceMs < limits.timeoutMs) continue;
      marks.delete(socket);
      limits.onCut?.(socket);
      socket.destroy();
    }
  };
  // A cut comes between timeoutMs and a quarter more; a long deadline is still checked every 5 s at least.
  const timer = setInterval(sweep, Math.max(25, Math.min(limits.timeoutMs / 4, 5_000)));
  timer.unref();
  return () => {
    clearInterval(timer);
    server.off(event, onConnection);
    marks.clear();
  };
}

function markOf(socket: Socket, nowMs: number): SendMark {
  return { acceptedBytes: acceptedBytes(socket), queuedBytes: libuvQueuedBytes(socket), sinceMs: nowMs };
}

function moved(socket: Socket, mark: SendMark): boolean {
  return acceptedBytes(socket) !== mark.acceptedBytes || libuvQueuedBytes(socket) !== mark.queuedBytes;
}

/** Bytes whose writes have completed: everything written less what Node still holds (buffered or in a write under way). */
function acceptedBytes(socket: Socket): number {
  return socket.bytesWritten - socket.writableLength;
}

/**
 * What libuv still has to hand the kernel of the write under way, on a plain TCP socket. It shrinks as
 * the kernel takes part of a large write, so a slow reader shows progress within a write, not only at
 * its end. Not public API, so only read when it is a number (a TLS socket has none: whole writes count).
 */
function libuvQueuedBytes(socket: Socket): number | undefined {
  const queued = (socket as unknown as { _handle?: { writeQueueSize?: unknown } | null })._handle?.writeQueueSize;
  return typeof queued === 'number' ? queued : undefined;
}
