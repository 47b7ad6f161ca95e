import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { t } from 'tap';
import { seededBytes } from '../helpers/bytes.js';
import { parsePrometheus, sampleValue, scrape } from '../helpers/prometheus.js';
import { pidAlive } from '../helpers/pids.js';
import { freePorts } from '../helpers/ports.js';
import { startProcessCluster, TesseraProcess } from '../helpers/server.js';

const run = promisify(execFile);

/** PIDs of a process's children (the gateway's workers). */
async function childrenOf(pid: number): Promise<number[]> {
  try {
    const { stdout } = await run('pgrep', ['-P', String(pid)]);
    return stdout.split('\n').filter((line) => line.trim() !== '').map(Number).sort((a, b) => a - b);
  } catch {
    return [];
  }
}

/** Polls until `check` holds; the test's own timeout bounds it. */
async function until(check: () => Promise<boolean>): Promise<void> {
  while (!(await check())) await new Promise((resolve) => setTimeout(resolve, 50));
}

// One cluster for both tests (nine processes to start): the failed start's second gateway only reads its
// configuration, so it runs first; the first gateway is stopped at the end of the other test.
const cluster = await startProcessCluster(t, { gatewayArgs: ['--workers', '2'] });

t.test('a worker that dies before it listens fails the start: the primary exits 1 and stops the worker that did start', async (t) => {
  const [port] = await freePorts(1);
  const second = new TesseraProcess('tessera gateway (second)', ['gateway', '--config', cluster.configPath, '--listen', `127.0.0.1:${port}`, '--workers', '2'], {});
  t.teardown(() => second.stop());
  // Both workers forked: each loads the whole gateway and fetches the ring before it listens, far longer than this poll.
  await until(async () => (await childrenOf(second.pid)).length === 2);
  const [doomed, sibling] = await childrenOf(second.pid);
  process.kill(doomed as number, 'SIGKILL');
  // Bounded: before the fix the primary printed the error and went on serving with the other worker.
  // The timer is unreferenced: left pending, it held the test process open for two minutes after the test.
  const exit = await Promise.race([second.exited, new Promise<undefined>((resolve) => setTimeout(resolve, 120_000, undefined).unref())]);
  if (exit === undefined) throw new Error(`the primary did not exit within 120 s after its worker died\n${second.describe()}`);
  t.equal(exit.code, 1, `the primary failed its start (${second.stderr.trim().split('\n').at(-1) ?? ''})`);
  t.match(second.stderr, /gateway worker exited on SIGKILL before it listened/);
  await until(async () => !pidAlive(sibling as number));
  t.pass('the worker that was starting beside it is stopped too');
});

t.test('a gateway with --workers 2 serves from two processes on one port, replaces a dead one, and stops them all', async (t) => {
  // The gateway answers as soon as one worker listens; the other may still be starting, and one killed
  // then fails the start (a worker is replaced only once all have listened).
  await until(async () => cluster.gateway.stderr.includes('gateway workers listening'));
  const workers = await childrenOf(cluster.gateway.pid);
  t.equal(workers.length, 2, 'two worker processes');

  const client = cluster.client({ maxAttempts: 1 });
  await client.send(new CreateBucketCommand({ Bucket: 'workers' }));
  const bodies = Array.from({ length: 12 }, (_, i) => seededBytes(1000 + i * 5000, i));
  await Promise.all(bodies.map((body, i) => client.send(new PutObjectCommand({ Bucket: 'workers', Key: `k${i}`, Body: body }))));
  const read = async (i: number): Promise<boolean> => {
    const got = await (await client.send(new GetObjectCommand({ Bucket: 'workers', Key: `k${i}` }))).Body!.transformToByteArray();
    return Buffer.from(got).equals(bodies[i] as Buffer);
  };
  t.same(await Promise.all(bodies.map((_, i) => read(i))), bodies.map(() => true), 'every object reads back, whichever worker serves it');

  // Whichever worker answers a scrape, /metrics counts the requests of both.
  for (let scrapeIndex = 0; scrapeIndex < 4; scrapeIndex += 1) {
    const figures = parsePrometheus((await scrape(`${cluster.endpoint}/metrics`)).text);
    t.equal(sampleValue(figures, 'tessera_gateway_requests_total', { operation: 'PutObject', status_class: '2xx' }), 12, `scrape ${scrapeIndex}: every worker's PUTs`);
  }

  process.kill(workers[0] as number, 'SIGKILL');
  await until(async () => {
    const now = await childrenOf(cluster.gateway.pid);
    return now.length === 2 && !now.includes(workers[0] as number);
  });
  t.pass('a killed worker is replaced');
  // The replacement is still starting: the scrape counts the worker that serves, rather than waiting for one that cannot answer yet.
  const startedAt = Date.now();
  const during = await scrape(`${cluster.endpoint}/metrics`);
  t.equal(during.status, 200, `a scrape while a worker starts answers (${during.text.slice(0, 200)})`);
  t.ok(Date.now() - startedAt < 4_000, 'at once, not after a timeout');
  t.ok(sampleValue(parsePrometheus(during.text), 'tessera_gateway_requests_total', { operation: 'PutObject', status_class: '2xx' }) <= 12, 'with the figures of the workers that report');
  t.same(await Promise.all(bodies.map((_, i) => read(i))), bodies.map(() => true), 'and the gateway still serves');

  const remaining = await childrenOf(cluster.gateway.pid);
  const stopped = await cluster.gateway.stop(30_000);
  t.equal(stopped.killed, false, 'the gateway stopped on SIGTERM');
  t.equal(stopped.code, 0);
  t.same(remaining.filter((pid) => pidAlive(pid)), [], 'no worker outlives it');
});
