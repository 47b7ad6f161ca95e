import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseGatewayConfig, silentLogger } from '../../src/common/index.js';
import { Gateway } from '../../src/gateway/index.js';
import { StorageNode } from '../../src/storage-node/index.js';
import { TEST_CREDENTIALS } from './cluster.js';

/**
 * A TCP relay in front of one storage node that holds back every chunk the node sends by `delayMs`
 * (order kept): the node as a busy machine makes it look, slow to answer but alive. Requests pass
 * through at once. `delayMs` may change while connections are open. With `cutRequestsWith` set, a
 * connection whose request bytes contain that text is cut before they reach the node: the node as a
 * gateway that died mid-request leaves it.
 */
export class SlowLink {
  delayMs = 0;
  cutRequestsWith: string | undefined;
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
    // The last bytes of the previous chunk are kept, so text split across two chunks is still found.
    let tail = '';
    client.on('data', (chunk: Buffer) => {
      const needle = this.cutRequestsWith;
      if (needle !== undefined) {
        const seen = tail + chunk.toString('latin1');
        if (seen.includes(needle)) {
          drop();
          return;
        }
        tail = seen.slice(-needle.length);
      }
      if (!upstream.write(chunk)) {
        client.pause();
        upstream.once('drain', () => client.resume());
      }
    });
    client.on('end', () => upstream.end());
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

/**
 * Six real storage nodes, each behind a SlowLink, and one gateway (4+2) that reaches them only through
 * the links, with its metadata and stall timeouts set to `timeoutFloorMs`. Everything is stopped and
 * removed at teardown.
 */
export async function slowCluster(
  t: { teardown(fn: () => unknown): void },
  timeoutFloorMs: number,
): Promise<{ links: SlowLink[]; nodes: StorageNode[]; endpoint: string }> {
  const secret = 'test-cluster-secret';
  const dataDir = await mkdtemp(join(tmpdir(), 'tessera-slow-'));
  const nodes: StorageNode[] = [];
  const links: SlowLink[] = [];
  let gateway: Gateway | undefined;
  t.teardown(async () => {
    await gateway?.close();
    for (const link of links) await link.close();
    for (const node of nodes) await node.close();
    await rm(dataDir, { recursive: true, force: true });
  });
  for (let i = 0; i < 6; i += 1) {
    const node = new StorageNode({ nodeId: `node-${i}`, dataDir: join(dataDir, `node-${i}`), host: '127.0.0.1', port: 0, clusterSecret: secret, logger: silentLogger() });
    nodes.push(node);
    await node.start();
    links.push(await SlowLink.start({ host: '127.0.0.1', port: node.address.port }));
  }
  const config = parseGatewayConfig({
    listen: '127.0.0.1:0',
    credentials: [{ ...TEST_CREDENTIALS }],
    clusterSecret: secret,
    erasure: { dataShards: 4, parityShards: 2 },
    nodes: links.map((link, i) => ({ id: `node-${i}`, address: link.address, zone: 'test' })),
    metadataTimeoutMs: timeoutFloorMs,
    stallTimeoutMs: timeoutFloorMs,
  });
  gateway = new Gateway({ config, logger: silentLogger() });
  const address = await gateway.start();
  return { links, nodes, endpoint: `http://127.0.0.1:${address.port}` };
}
