import { createServer, connect, type Server, type Socket } from 'node:net';

/**
 * A TCP relay in front of one storage node that holds back every chunk the node sends by `delayMs`
 * (order kept): the node as a busy machine makes it look, slow to answer but alive. Requests pass
 * through at once. `delayMs` may change while connections are open.
 */
export class SlowLink {
  delayMs = 0;
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private readonly target: { host: string; port: number };

  private constructor(target: { host: string; port: number }) {
    this.target = target;
    this.server = createServer((client) => this.relay(client));
  }

  /** Starts a relay to `target` on a loopback port of the OS's choosing. */
  static async start(target: { host: string; port: number }): Promise<SlowLink> {
    const link = new SlowLink(target);
    await new Promise<void>((resolve, reject) => {
      link.server.once('error', reject);
      link.server.listen(0, '127.0.0.1', () => resolve());
    });
    return link;
  }

  /** host:port of the relay. */
  get address(): string {
    const address = this.server.address();
    if (address === null || typeof address === 'string') throw new Error('relay not listening');
    return `127.0.0.1:${address.port}`;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private relay(client: Socket): void {
    const upstream = connect(this.target.port, this.target.host);
    this.sockets.add(client);
    this.sockets.add(upstream);
    const drop = (): void => {
      client.destroy();
      upstream.destroy();
      this.sockets.delete(client);
      this.sockets.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream);
    // Each chunk from the node leaves `delayMs` after it arrived, never before the one ahead of it.
    let lastDueMs = 0;
    upstream.on('data', (chunk: Buffer) => {
      const dueMs = Math.max(performance.now() + this.delayMs, lastDueMs);
      lastDueMs = dueMs;
      setTimeout(() => {
        if (!client.destroyed) client.write(chunk);
      }, dueMs - performance.now());
    });
    upstream.on('end', () => {
      setTimeout(() => client.end(), Math.max(0, lastDueMs - performance.now()));
    });
  }
}
