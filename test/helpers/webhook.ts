import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

type Teardown = { teardown(fn: () => unknown): void };

/** A webhook target: a real HTTP listener that keeps every body it accepted, and refuses (503) while `refusing`. */
export class Webhook {
  readonly received: { Records: [Record<string, any>] }[] = [];
  refusing = false;
  refused = 0;
  private readonly server: Server;

  private constructor(server: Server) {
    this.server = server;
  }

  /** Listens on `port` (a free one when 0) until `t` ends. */
  static async start(t: Teardown, port = 0): Promise<Webhook> {
    const server = createServer();
    const hook = new Webhook(server);
    server.on('request', (request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        if (hook.refusing) {
          hook.refused += 1;
          response.writeHead(503).end();
          return;
        }
        hook.received.push(JSON.parse(Buffer.concat(chunks).toString('utf8')));
        response.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    t.teardown(
      () =>
        new Promise<void>((resolve) => {
          // The nodes' publishers keep their connections alive: cut them, or the close would wait for them.
          server.close(() => resolve());
          server.closeAllConnections();
        }),
    );
    return hook;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/events`;
  }

  /** The object keys and sequencers received, in arrival order. */
  events(): { key: string; sequencer: string; eventName: string }[] {
    return this.received.map(({ Records: [record] }) => ({ key: record.s3.object.key, sequencer: record.s3.object.sequencer, eventName: record.eventName }));
  }
}
