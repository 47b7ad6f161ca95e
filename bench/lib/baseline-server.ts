import Fastify, { type FastifyInstance } from 'fastify';

/**
 * The HTTP-only baseline: a bare Fastify server on loopback that reads and discards PUT bodies, remembering only each
 * key's length, and answers GETs with the caller's pre-generated payload of that length from memory. What it costs is
 * what any HTTP server in this process costs; Tessera's figures divided by these are the overhead of storage.
 */
export class BaselineServer {
  private readonly app: FastifyInstance;
  private readonly lengths = new Map<string, number>();
  private readonly payloadsByLength: ReadonlyMap<number, Uint8Array>;

  constructor(options: { payloads: readonly Uint8Array[] }) {
    this.payloadsByLength = new Map(options.payloads.map((payload) => [payload.byteLength, payload]));
    this.app = Fastify({ logger: false, keepAliveTimeout: 65_000, exposeHeadRoutes: false });
    this.app.removeAllContentTypeParsers();
    // Leave the body on the request stream: the handler drains it, as the gateway's handler streams it.
    this.app.addContentTypeParser('*', (_request, _payload, done) => done(null));
    this.app.put('/*', async (request, reply) => {
      let sizeBytes = 0;
      for await (const chunk of request.raw as AsyncIterable<Buffer>) sizeBytes += chunk.length;
      this.lengths.set(request.url, sizeBytes);
      return reply.status(200).header('etag', '"baseline"').send();
    });
    this.app.get('/*', async (request, reply) => {
      const sizeBytes = this.lengths.get(request.url);
      const payload = sizeBytes === undefined ? undefined : this.payloadsByLength.get(sizeBytes);
      if (payload === undefined) return reply.status(404).type('application/xml').send('<Error><Code>NoSuchKey</Code></Error>');
      return reply.type('application/octet-stream').header('content-length', payload.byteLength).send(Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength));
    });
  }

  /** Listens on an ephemeral loopback port; resolves with `http://127.0.0.1:<port>`. */
  async start(): Promise<string> {
    await this.app.listen({ host: '127.0.0.1', port: 0 });
    const address = this.app.server.address();
    if (address === null || typeof address === 'string') throw new Error('baseline server has no TCP address');
    return `http://127.0.0.1:${address.port}`;
  }

  /** Stops listening. */
  async close(): Promise<void> {
    await this.app.close();
  }
}
