import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { TESSERA_BIN } from './targets.js';

/**
 * The change log's cost (`npm run bench`, the events table): tessera PUTs the same objects to a plain bucket and
 * to one whose notification configuration selects every created object, the two taking turns. The second
 * bucket's writes log their change in the commit's batch on every node, and the nodes deliver them to a
 * webhook this bench serves, so its PUT figures carry both the log and the delivery beside the writes.
 */

const KiB = 1024;
const MiB = 1024 * KiB;

/** The PUT lines of the matrix the change log could slow: many small objects, and 1 MiB ones. */
export const EVENT_WORKLOADS: readonly { sizeBytes: number; objects: number; clients: number }[] = [
  { sizeBytes: 4 * KiB, objects: 2000, clients: 16 },
  { sizeBytes: MiB, objects: 200, clients: 8 },
];

/** Rounds of plain and notified PUTs in turn; each keeps its best. */
export const EVENT_ROUNDS = 3;

/** PUT throughput with the change log as a share of plain's that the issue allows at least. */
export const EVENT_TARGET_RATIO = 0.95;

/** The bucket whose writes are notified. */
export const EVENTS_BUCKET = 'bench-events';

/** A webhook that accepts every event and counts the records it received. */
export class WebhookSink {
  private readonly server = createServer((request: IncomingMessage, response: ServerResponse) => this.receive(request, response));
  /** Event records received. */
  records = 0;

  async start(): Promise<string> {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/events`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private receive(request: IncomingMessage, response: ServerResponse): void {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      try {
        this.records += (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { Records?: unknown[] }).Records?.length ?? 0;
      } catch {
        // Not an event: answered all the same, and not counted.
      }
      response.writeHead(200).end();
    });
  }
}

/** Defines webhook target `name` on the tessera dev cluster in `dataDir`, as an operator does; its ARN. */
export async function defineWebhookTarget(dataDir: string, name: string, url: string): Promise<string> {
  const { stdout } = await promisify(execFile)(process.execPath, [TESSERA_BIN, 'admin', 'target', 'add', name, '--type', 'webhook', '--url', url, '--data', dataDir]);
  const arn = /arn:tessera:sqs::\S+/.exec(stdout)?.[0];
  if (arn === undefined) throw new Error(`tessera admin target add printed no ARN: ${stdout}`);
  return arn;
}

/** A notification configuration that sends every created object to `arn`. */
export function everyCreatedObject(arn: string): string {
  return `<NotificationConfiguration><QueueConfiguration><Id>bench</Id><Queue>${arn}</Queue><Event>s3:ObjectCreated:*</Event></QueueConfiguration></NotificationConfiguration>`;
}
