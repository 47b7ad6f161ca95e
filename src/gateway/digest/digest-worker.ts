/**
 * Entry point of a digest worker thread (see DigestPool): hashes the batches it is sent, per stream,
 * hands each batch's memory back for reuse, and answers the digests with a stream's last batch.
 */
import { parentPort } from 'node:worker_threads';
import { DigestHashers } from './digest-hashers.js';
import type { DigestRequest, DigestResponse } from './digest-protocol.js';

const port = parentPort;
if (port === null) throw new Error('digest-worker runs only as a worker thread');

const streams = new Map<number, DigestHashers>();

function answer(message: DigestResponse, transfer: ArrayBuffer[]): void {
  port?.postMessage(message, transfer);
}

function hashersFor(id: number, spec: DigestRequest & { op: 'data' | 'end' }): DigestHashers | undefined {
  if (spec.spec !== undefined) streams.set(id, new DigestHashers(spec.spec));
  return streams.get(id);
}

port.on('message', (message: DigestRequest) => {
  if (message.op === 'drop') {
    streams.delete(message.id);
    return;
  }
  const hashers = hashersFor(message.id, message);
  const buffer = message.op === 'data' ? message.buffer : undefined;
  const transfer = buffer === undefined ? [] : [buffer];
  if (hashers === undefined) {
    answer({ op: 'failed', id: message.id, message: 'unknown digest stream' }, []);
    return;
  }
  if (message.op === 'data') hashers.update(new Uint8Array(message.buffer, 0, message.lengthBytes));
  const last = message.op === 'end' || message.last;
  if (last) streams.delete(message.id);
  answer({ op: 'ack', id: message.id, buffer, digests: last ? hashers.finish() : undefined }, transfer);
});
