import t from 'tap';
import { DecodeMatrixCache } from '../../src/erasure/decode-matrix-cache.js';

/** A cache plus a log of the patterns it had to compute. */
function counting(capacityEntries: number): { cache: DecodeMatrixCache; computed: string[]; rows: (s: number[], tg: number[]) => Uint8Array } {
  const cache = new DecodeMatrixCache(capacityEntries);
  const computed: string[] = [];
  const rows = (sources: number[], targets: number[]): Uint8Array =>
    cache.rows(sources, targets, () => {
      computed.push(`${sources.join(',')}>${targets.join(',')}`);
      return Uint8Array.from([...sources, 255, ...targets]);
    });
  return { cache, computed, rows };
}

t.test('two loss patterns alternating are computed once each and hit afterwards', (t) => {
  const { cache, computed, rows } = counting(8);
  const first = rows([2, 3, 4, 5, 6, 7, 8, 9], [0, 1]);
  const second = rows([0, 1, 3, 4, 5, 6, 7, 8], [2, 9]);
  for (let i = 0; i < 5; i++) {
    t.equal(rows([2, 3, 4, 5, 6, 7, 8, 9], [0, 1]), first, 'same array for the first pattern');
    t.equal(rows([0, 1, 3, 4, 5, 6, 7, 8], [2, 9]), second, 'same array for the second pattern');
  }
  t.same(computed, ['2,3,4,5,6,7,8,9>0,1', '0,1,3,4,5,6,7,8>2,9']);
  t.equal(cache.sizeEntries, 2);
  t.end();
});

t.test('the key is the ordered sources and the ordered targets', (t) => {
  const { computed, rows } = counting(16);
  const base = rows([2, 3, 4, 5], [0, 1]);
  t.not(rows([2, 3, 4, 5], [1, 0]), base, 'targets in another order are another matrix (rows swapped)');
  t.not(rows([3, 4, 5, 6], [0, 1]), base, 'other sources');
  t.not(rows([2, 3, 4, 5], [0]), base, 'fewer targets');
  // Joined without separators, [1, 23] and [12, 3] would collide.
  t.not(rows([1, 23], [0]), rows([12, 3], [0]), 'multi-digit indexes do not collide');
  t.equal(computed.length, 6);
  t.end();
});

t.test('the cache never holds more than its capacity and evicts the least recently used', (t) => {
  const { cache, computed, rows } = counting(3);
  for (let i = 0; i < 10; i++) {
    rows([i + 1, i + 2], [0]);
    t.ok(cache.sizeEntries <= 3, `size after ${i + 1} patterns`);
  }
  t.equal(cache.sizeEntries, 3);
  t.equal(computed.length, 10);
  rows([10, 11], [0]);
  t.equal(computed.length, 10, 'the newest pattern is still held');
  rows([1, 2], [0]);
  t.equal(computed.length, 11, 'the oldest pattern was evicted and is computed again');

  const lru = counting(2);
  lru.rows([1], [0]);
  lru.rows([2], [0]);
  lru.rows([1], [0]); // hit: [1] becomes the most recently used
  lru.rows([3], [0]); // evicts [2]
  lru.rows([1], [0]);
  t.same(lru.computed, ['1>0', '2>0', '3>0'], 'a hit protects an entry from the next eviction');
  lru.rows([2], [0]);
  t.same(lru.computed, ['1>0', '2>0', '3>0', '2>0']);
  t.end();
});

t.test('capacity must be a positive integer', (t) => {
  for (const capacity of [0, -1, 1.5, Number.NaN]) t.throws(() => new DecodeMatrixCache(capacity), RangeError);
  t.end();
});
