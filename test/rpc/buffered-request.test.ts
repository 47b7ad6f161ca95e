import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { t } from 'tap';
import { Pool } from 'undici';
import { bufferedRequest } from '../../src/rpc/buffered-request.js';

/** A real HTTP server on 127.0.0.1 answering with `handler`, and a pool to it; both closed at the end of the test. */
async function serve(t: { teardown(fn: () => unknown): void }, handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<Pool> {
  const server = createServer(handler);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const pool = new Pool(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, { connections: 1 });
  t.teardown(async () => {
    await pool.destroy();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  return pool;
}

t.test('an answer sent in several writes arrives whole with its status, and the request body reaches the server', async (t) => {
  let received = '';
  const pool = await serve(t, (req, res) => {
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (received += chunk));
    req.on('end', () => {
      res.writeHead(207);
      res.write('{"part":');
      setImmediate(() => res.end('"two"}'));
    });
  });
  let started = 0;
  const answer = await bufferedRequest(pool, { method: 'POST', path: '/x', body: '{"asked":1}' }, undefined, () => (started += 1));
  t.equal(answer.statusCode, 207);
  t.same(JSON.parse(answer.body.toString('utf8')), { part: 'two' });
  t.equal(received, '{"asked":1}');
  t.equal(started, 1, 'told once when the status line arrived');
});

t.test('a signal aborted before the call rejects with its reason and sends nothing', async (t) => {
  let requests = 0;
  const pool = await serve(t, (_req, res) => {
    requests += 1;
    res.end('{}');
  });
  const reason = new Error('caller gave up');
  await t.rejects(bufferedRequest(pool, { method: 'GET', path: '/x' }, AbortSignal.abort(reason), () => undefined), reason);
  t.equal(requests, 0);
});

t.test('a deadline that ends while the server has not answered rejects with the TimeoutError, and the pool serves the next call', async (t) => {
  let stalled: ServerResponse | undefined;
  const pool = await serve(t, (req, res) => {
    if (req.url === '/stall') stalled = res;
    else res.end('{"ok":true}');
  });
  await t.rejects(bufferedRequest(pool, { method: 'GET', path: '/stall' }, AbortSignal.timeout(50), () => undefined), { name: 'TimeoutError' });
  t.ok(stalled !== undefined, 'the request reached the server');
  const next = await bufferedRequest(pool, { method: 'GET', path: '/next' }, undefined, () => undefined);
  t.same(JSON.parse(next.body.toString('utf8')), { ok: true });
});

t.test('a connection the server cuts mid-answer rejects with undici\'s error', async (t) => {
  const pool = await serve(t, (_req, res) => {
    res.writeHead(200, { 'content-length': '100' });
    res.write('{"half":');
    setImmediate(() => res.socket?.destroy());
  });
  await t.rejects(bufferedRequest(pool, { method: 'GET', path: '/x' }, undefined, () => undefined));
});

t.test('an answer longer than the bound is cut off and fails; the next request on the pool is answered', async (t) => {
  const pool = await serve(t, (req, res) => {
    if (req.url === '/long') {
      res.writeHead(200, { 'content-encoding': 'gzip' });
      res.write(Buffer.alloc(600, 1));
      setImmediate(() => res.end(Buffer.alloc(600, 2)));
    } else res.end('short');
  });
  await t.rejects(bufferedRequest(pool, { method: 'GET', path: '/long' }, undefined, () => undefined, 1000), { name: 'AnswerTooLargeError' });
  const within = await bufferedRequest(pool, { method: 'GET', path: '/long' }, undefined, () => undefined, 1200);
  t.equal(within.body.length, 1200, 'an answer of exactly the bound arrives whole');
  t.equal(within.contentEncoding, 'gzip', 'with the encoding it named');
  const next = await bufferedRequest(pool, { method: 'GET', path: '/next' }, undefined, () => undefined);
  t.equal(next.body.toString('utf8'), 'short');
  t.equal(next.contentEncoding, undefined, 'an answer that names no encoding has none');
});
