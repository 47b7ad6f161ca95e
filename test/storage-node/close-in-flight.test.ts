import { PassThrough } from 'node:stream';
import { t } from 'tap';
import { ERASURE, openStore, shardRef, tempDir } from './store-fixture.js';

t.test('closing a store waits for a shard write in flight, so the next start finds no orphan file', async (t) => {
  const dir = await tempDir(t, 'close-in-flight');
  const store = await openStore(dir);
  const body = new PassThrough();
  const ref = shardRef('in-flight', 1);
  const prepared = store.prepare(ref, ERASURE, body);
  // A file-sized shard (above the inline threshold), half of it sent before the close starts.
  body.write(Buffer.alloc(300 * 1024, 1));
  let closed = false;
  const closing = store.close().then(() => {
    closed = true;
  });
  await new Promise((resolve) => setImmediate(resolve));
  t.equal(closed, false, 'close waits while the write is still streaming');
  body.end(Buffer.alloc(300 * 1024, 2));
  t.equal(await prepared, 600 * 1024, 'the write completes');
  await closing;
  const reopened = await openStore(dir);
  t.teardown(() => reopened.close());
  const recovery = reopened.stats.lastRecovery;
  t.equal(recovery?.orphanFilesRemoved, 0, 'start-up recovery found no orphan file');
  t.equal(recovery?.missingFiles, 0, 'and no missing one');
});
