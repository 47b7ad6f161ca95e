import { t } from 'tap';
import { ReadBufferPool } from '../../src/storage-node/read-buffer-pool.js';

/** A shard GET's read buffers go back to the pool only when every chunk in them has been sent. */

const SMALL = 1024;
const LARGE = 4096;

t.test('a buffer is reused only after its last reference is released', async (t) => {
  const pool = new ReadBufferPool({ classBytes: [LARGE, SMALL], maxFreeBytes: 1 << 20 });
  const first = pool.take(700);
  t.equal(first.length, 700, 'the length asked for');
  const chunk = first.subarray(100, 200);
  pool.retain(chunk);
  pool.release(first);
  t.equal(pool.freeSizeBytes, 0, 'a chunk still being sent keeps its buffer out of the pool');
  const meanwhile = pool.take(700);
  t.not(meanwhile.buffer, first.buffer, 'a take meanwhile gets other memory');
  pool.release(chunk);
  t.equal(pool.freeSizeBytes, SMALL, 'the last release returns the whole buffer of its class');
  const again = pool.take(SMALL);
  t.equal(again.buffer, first.buffer, 'the next take of that class reuses it');
  t.equal(pool.freeSizeBytes, 0);
});

t.test('a take picks the smallest class that holds it, and one larger than every class is a plain buffer', async (t) => {
  const pool = new ReadBufferPool({ classBytes: [SMALL, LARGE], maxFreeBytes: 1 << 20 });
  const small = pool.take(SMALL);
  const large = pool.take(SMALL + 1);
  const huge = pool.take(LARGE + 1);
  pool.release(small);
  pool.release(large);
  pool.release(huge);
  t.equal(pool.freeSizeBytes, SMALL + LARGE, 'the two pooled buffers came back, the plain one did not');
  t.equal(pool.take(10).buffer, small.buffer, 'a small take reuses the small class');
});

t.test('memory the pool did not give out is left alone', async (t) => {
  const pool = new ReadBufferPool({ classBytes: [SMALL], maxFreeBytes: 1 << 20 });
  const foreign = Buffer.alloc(SMALL, 7);
  pool.retain(foreign);
  pool.release(foreign);
  pool.release(foreign);
  t.equal(pool.freeSizeBytes, 0, 'nothing joined the pool');
  t.not(pool.take(SMALL).buffer, foreign.buffer, 'and nothing hands it out');
});

t.test('the free list keeps no more than its bound', async (t) => {
  const pool = new ReadBufferPool({ classBytes: [SMALL], maxFreeBytes: SMALL });
  const a = pool.take(SMALL);
  const b = pool.take(SMALL);
  pool.release(a);
  pool.release(b);
  t.equal(pool.freeSizeBytes, SMALL, 'the second buffer is left to the collector');
});
