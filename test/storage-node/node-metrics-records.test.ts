import { t } from 'tap';
import { NodeMetrics } from '../../src/storage-node/index.js';
import type { NodeHealth } from '../../src/rpc/index.js';

/**
 * A node's key count walks an index, so /metrics caches it for a minute. Scrapes that arrive together
 * once the cache has expired (several Prometheus servers, a dashboard beside them) share one count
 * instead of each starting a walk of their own.
 */

function countingSources() {
  const counts: { resolve: (value: number) => void }[] = [];
  const metrics = new NodeMetrics({
    nodeId: 'node-0',
    health: () => Promise.reject(new Error('not read by this test')),
    workStatus: undefined,
    countKeys: () => new Promise<number>((resolve) => counts.push({ resolve })),
    metadataDir: undefined,
    digests: () => ({ running: 0, waiting: 0, done: 0, abandoned: 0, refused: 0 }),
  });
  const scrape = async (): Promise<number | undefined> => (await metrics.registry.getSingleMetric('tessera_node_records')?.get())?.values[0]?.value;
  return { metrics, counts, scrape };
}

t.test('scrapes that arrive while the key count runs share it: the index is walked once', async (t) => {
  const { counts, scrape } = countingSources();
  const scrapes = [scrape(), scrape(), scrape()];
  await new Promise((resolve) => setImmediate(resolve));
  t.equal(counts.length, 1, 'one count for three scrapes');
  counts[0]?.resolve(42);
  t.same(await Promise.all(scrapes), [42, 42, 42], 'every scrape reports it');
  t.equal(await scrape(), 42, 'a later scrape within the minute uses the cached count');
  t.equal(counts.length, 1, 'without counting again');
});

t.test('a count that fails fails the scrapes waiting on it, and the next scrape counts again', async (t) => {
  const counts: number[] = [];
  let fail = true;
  const metrics = new NodeMetrics({
    nodeId: 'node-0',
    health: () => Promise.resolve({} as NodeHealth),
    workStatus: undefined,
    countKeys: () => {
      counts.push(counts.length);
      return fail ? Promise.reject(new Error('index unreadable')) : Promise.resolve(7);
    },
    metadataDir: undefined,
    digests: () => ({ running: 0, waiting: 0, done: 0, abandoned: 0, refused: 0 }),
  });
  const gauge = metrics.registry.getSingleMetric('tessera_node_records');
  await t.rejects(Promise.resolve(gauge?.get()), /index unreadable/, 'the scrape fails with the count');
  fail = false;
  t.equal((await gauge?.get())?.values[0]?.value, 7, 'the next scrape counts again and reports it');
  t.equal(counts.length, 2, 'two counts in all');
});

t.test('a count that outlasts a scrape\'s wait leaves the scrape NaN before the first count, and goes on for the next scrape', async (t) => {
  const { counts, scrape } = countingSources();
  t.ok(Number.isNaN(await scrape()), 'the scrape answers NaN instead of waiting on the walk');
  t.equal(counts.length, 1, 'the walk started');
  const next = scrape();
  await new Promise((resolve) => setImmediate(resolve));
  counts[0]?.resolve(42);
  t.equal(await next, 42, 'a scrape that arrives while the walk runs reports it when it ends in time');
  t.equal(counts.length, 1, 'the same walk: not started again');
});
