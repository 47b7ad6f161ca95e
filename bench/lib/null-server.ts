import { Readable } from 'node:stream';
import Fastify, { type FastifyInstance } from 'fastify';
import { basePayload, TAG_BYTES } from './payload.js';

/** What the null server remembers of a PUT: enough to answer a GET with the same bytes. */
interface Stored {
  sizeBytes: number;
  tag: Buffer;
}

/** Bodies up to this size are answered from one buffer; larger ones stream as tag + shared payload. */
const SINGLE_BUFFER_MAX_BYTES = 1024 * 1024;

/**
 * The ceiling: a bare Fastify server on loopback that reads and discards PUT bodies, remembering only each key's length
 * and leading tag, and answers GETs with the tag followed by the size's shared payload (`basePayload`) from memory. It
 * stores nothing, so what it costs is what HTTP in one Node process costs; Tessera's figures over these are the
 * overhead of storage. It accepts any credentials and checks no signature.
 */
export class NullServer {
  private readonly app: FastifyInstance;
  private readonly objects = new Map<string, Stored>();
  private readonly payloads = new Map<number, Buffer>();

  constructor() {
    this.app = Fastify({ logger: false, keepAliveTimeout: 65_000, exposeHeadRoutes: false });
    this.app.removeAllContentTypeParsers();
    // Leave the body on the request stream: the handler drains it, as the gateway's handler streams it.
    this.app.addContentTypeParser('*', (_request, _payload, done) => done(null));
    this.app.put('/*', async (request, reply) => {
      let sizeBytes = 0;
      const head: Buffer[] = [];
      for await (const chunk of request.raw as AsyncIterable<Buffer>) {
        if (sizeBytes < TAG_BYTES) head.push(chunk.subarray(0, TAG_BYTES - sizeBytes));
        sizeBytes += chunk.length;
      }
      // Bucket creation is a PUT with an empty body; it leaves nothing to GET.
      if (sizeBytes > 0) this.objects.set(request.url, { sizeBytes, tag: Buffer.concat(head) });
      return reply.status(200).header('etag', '"null"').send();
    });
    this.app.get('/*', async (request, reply) => {
      const stored = this.objects.get(request.url);
      if (stored === undefined) return reply.status(404).type('application/xml').send('<Error><Code>NoSuchKey</Code></Error>');
      const rest = this.payload(stored.sizeBytes).subarray(stored.tag.length);
      reply.type('application/octet-stream').header('content-length', stored.sizeBytes);
      return reply.send(stored.sizeBytes <= SINGLE_BUFFER_MAX_BYTES ? Buffer.concat([stored.tag, rest]) : Readable.from([stored.tag, rest], { objectMode: false }));
    });
  }

  /** Listens on `port` (0: any) on loopback; resolves with `http://127.0.0.1:<port>`. */
  async start(port = 0): Promise<string> {
    await this.app.listen({ host: '127.0.0.1', port });
    const address = this.app.server.address();
    if (address === null || typeof address === 'string') throw new Error('null server has no TCP address');
    return `http://127.0.0.1:${address.port}`;
  }

  /** Stops listening. */
  async close(): Promise<void> {
    await this.app.close();
  }

  private payload(sizeBytes: number): Buffer {
    let payload = this.payloads.get(sizeBytes);
    if (payload === undefined) {
      const base = basePayload(sizeBytes);
      payload = Buffer.from(base.buffer, base.byteOffset, base.byteLength);
      this.payloads.set(sizeBytes, payload);
    }
    return payload;
  }
}
