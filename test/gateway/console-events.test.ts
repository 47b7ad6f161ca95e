import { access, mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { t } from 'tap';
import puppeteer from 'puppeteer-core';
import { CreateBucketCommand, PutBucketNotificationConfigurationCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { deliveryTotals } from '../../src/gateway/http/console-events.js';
import { NodeClient, type EventTargetFigures } from '../../src/rpc/index.js';
import { underCi } from '../helpers/clients.js';
import { startCluster, TEST_CREDENTIALS } from '../helpers/cluster.js';
import { defineTarget } from '../helpers/event-targets.js';
import { freePorts } from '../helpers/ports.js';
import { until } from '../helpers/until.js';

/**
 * The console's figures of event and replication delivery: a webhook target on a port nothing listens
 * on keeps every change waiting, and the console's API and its Healing page show the backlog, the age
 * of the oldest change and the failed publishes, summed over the nodes, with the target's type.
 */
const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const ARTIFACTS = resolve(process.env['TESSERA_TEST_ARTIFACTS'] ?? 'test-artifacts', 'console');

interface Totals {
  target: string;
  type: string | null;
  backlog: number;
  oldestSeconds: number;
  delivered: number;
  failures: number;
  dropped: number;
  nodes: number;
}

t.test('a webhook that cannot be reached shows its backlog and failures per target in the console, summed over the nodes', async (t) => {
  const cluster = await startCluster();
  t.teardown(() => cluster.close());
  const nodes = cluster.config.nodes.map((node) => new NodeClient({ nodeId: node.id, address: node.address, clusterSecret: cluster.config.clusterSecret, connections: 1 }));
  t.teardown(() => Promise.all(nodes.map((node) => node.close())));
  // Claimed for this process and never bound: every publish to it is refused.
  const [closedPort] = await freePorts(1);
  const arn = await defineTarget(nodes, 'unreachable-hook', { type: 'webhook', url: `http://127.0.0.1:${closedPort}/events` });
  const s3 = cluster.client();
  const bucket = 'console-events';
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  await s3.send(new PutBucketNotificationConfigurationCommand({ Bucket: bucket, NotificationConfiguration: { QueueConfigurations: [{ Id: 'all', QueueArn: arn, Events: ['s3:ObjectCreated:*'] }] } }));
  const written = 8;
  for (let i = 0; i < written; i += 1) await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `key-${i}`, Body: `body ${i}` }));

  const signedIn = await fetch(`${cluster.consoleEndpoint}/-/console/api/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(TEST_CREDENTIALS) });
  t.equal(signedIn.status, 200, 'signed in');
  const cookie = signedIn.headers.get('set-cookie')?.split(';')[0] ?? '';
  const healing = async (): Promise<{ nodes: { nodeId: string; status?: { events?: { target: string; backlog: number; failures: number }[] } }[]; events: Totals[] }> => {
    const response = await fetch(`${cluster.consoleEndpoint}/-/console/api/healing`, { headers: { cookie } });
    if (response.status !== 200) throw new Error(`healing answered ${response.status}`);
    return (await response.json()) as Awaited<ReturnType<typeof healing>>;
  };
  // Every change waits at its key's leader: once the leaders' passes have counted them all, the sum is what was written.
  await until('every change counted as waiting, after failed publishes', async () => {
    const target = (await healing()).events.find((e) => e.target === 'unreachable-hook');
    return target !== undefined && target.backlog === written && target.failures > 0;
  }, 60_000);
  const answer = await healing();
  const [totals] = answer.events;
  t.equal(answer.events.length, 1, 'one target');
  t.match(totals, { target: 'unreachable-hook', type: 'webhook', backlog: written, delivered: 0, dropped: 0 }, 'its type, the whole backlog, nothing delivered or dropped');
  t.ok((totals?.oldestSeconds ?? 0) > 0, 'the oldest undelivered change has an age');
  const perNode = answer.nodes.flatMap((node) => node.status?.events?.filter((e) => e.target === 'unreachable-hook') ?? []);
  t.equal(totals?.nodes, perNode.length, 'counted over every node that reports the target');
  t.equal(totals?.failures, perNode.reduce((sum, e) => sum + e.failures, 0), "failures are the nodes' own, summed");
  t.equal(totals?.backlog, perNode.reduce((sum, e) => sum + e.backlog, 0), 'so is the backlog');

  if (!(await access(CHROMIUM).then(() => true, () => false))) {
    if (underCi()) t.fail(`no Chromium at ${CHROMIUM} (Debian package chromium)`);
    else t.comment(`skipped the rendered page: no Chromium at ${CHROMIUM} (apt-get install chromium)`);
    return;
  }
  await mkdir(ARTIFACTS, { recursive: true });
  const browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'], protocolTimeout: 120_000 });
  t.teardown(() => browser.close());
  const page = await browser.newPage();
  page.setDefaultTimeout(60_000);
  await page.setViewport({ width: 1280, height: 800 });
  const failures: string[] = [];
  page.on('pageerror', (err) => failures.push(String(err)));
  await page.setCookie({ name: cookie.split('=')[0] ?? '', value: cookie.slice(cookie.indexOf('=') + 1), url: `${cluster.consoleEndpoint}/-/console/` });
  await page.goto(`${cluster.consoleEndpoint}/-/console/#/healing`);
  await page.waitForSelector('#events');
  const rows = await page.$$eval('#events tr', (trs) => trs.slice(1).map((tr) => [...tr.querySelectorAll('td')].map((td) => (td.textContent ?? '').trim())));
  t.equal(rows.length, 1, 'one row per target');
  const [row] = rows;
  t.same(row?.slice(0, 3), ['unreachable-hook', 'webhook', String(written)], 'the target, its type and its backlog');
  t.match(row?.[3], /^\d+ (s|min)$/, 'the age of the oldest undelivered change');
  t.equal(row?.[4], '0', 'nothing delivered');
  t.ok(Number(row?.[5]) > 0, 'failed publishes');
  t.equal(await page.$eval('#events tr:nth-child(2) td:nth-child(3)', (td) => td.className), 'num warn', 'a backlog is marked');
  await page.screenshot({ path: join(ARTIFACTS, '9-events-backlog.png'), fullPage: true });
  t.same(failures, [], 'no script errors');
});

t.test("the console's totals add backlogs and counters over the nodes, take the oldest age, and name each target's type", async (t) => {
  const figures = (target: string, backlog: number, oldestSeconds: number, delivered: number, failures: number, dropped: number): EventTargetFigures => ({ target, backlog, oldestSeconds, delivered, failures, dropped, undeliverable: 0 });
  const definitions = new Map([
    ['replica', JSON.stringify({ type: 's3', endpoint: 'https://s3.example.com', bucket: 'copy', accessKeyId: 'AK', secretAccessKey: 'SK' })],
    ['queue', JSON.stringify({ type: 'amqp', url: 'amqp://broker.example.com', exchange: 'x', routingKey: 'r' })],
    ['broken', '{not json'],
  ]);
  const totals = deliveryTotals(
    [
      [figures('replica', 3, 120, 10, 1, 0), figures('queue', 0, 0, 5, 0, 0)],
      [],
      [figures('replica', 2, 960, 4, 2, 1), figures('gone', 1, 30, 0, 0, 0), figures('broken', 0, 0, 1, 0, 0)],
    ],
    (target) => definitions.get(target),
  );
  t.same(
    totals.map(({ target, type, backlog, oldestSeconds, delivered, failures, dropped, nodes }) => ({ target, type, backlog, oldestSeconds, delivered, failures, dropped, nodes })),
    [
      { target: 'broken', type: null, backlog: 0, oldestSeconds: 0, delivered: 1, failures: 0, dropped: 0, nodes: 1 },
      { target: 'gone', type: null, backlog: 1, oldestSeconds: 30, delivered: 0, failures: 0, dropped: 0, nodes: 1 },
      { target: 'queue', type: 'amqp', backlog: 0, oldestSeconds: 0, delivered: 5, failures: 0, dropped: 0, nodes: 1 },
      { target: 'replica', type: 's3', backlog: 5, oldestSeconds: 960, delivered: 14, failures: 3, dropped: 1, nodes: 2 },
    ],
    'by name; a target without a readable definition has no type',
  );
});
