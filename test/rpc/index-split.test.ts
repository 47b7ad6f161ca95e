import { t } from 'tap';
import { indexProgress, indexShardRange, indexShardsForWrite, withFurthestIndex, type BucketIndex, type BucketRecord } from '../../src/rpc/index.js';

/** The rules a shard split's stages follow in the bucket record (docs/bucket-index.md, "Growing"). */

const twoShards: BucketIndex = { shards: [{ id: 0, from: '' }, { id: 3, from: 'm' }] };

t.test('a shard ends where the next begins', async (t) => {
  t.same(indexShardRange(twoShards, 0), { from: '', before: 'm' });
  t.same(indexShardRange(twoShards, 3), { from: 'm', before: undefined });
});

t.test('while a split copies or is newly published, writes above its point go to both shards', async (t) => {
  const copying: BucketIndex = { ...twoShards, split: { parent: 0, id: 4, from: 'g', stage: 'copying', sinceMs: 1 } };
  t.same(indexShardsForWrite(copying, 'a'), [0], 'below the split point: the parent alone');
  t.same(indexShardsForWrite(copying, 'g'), [0, 4], 'at the split point: both');
  t.same(indexShardsForWrite(copying, 'k'), [0, 4], 'above it: both');
  t.same(indexShardsForWrite(copying, 'x'), [3], 'another shard: itself alone');
  const published: BucketIndex = { shards: [{ id: 0, from: '' }, { id: 4, from: 'g' }, { id: 3, from: 'm' }], split: { parent: 0, id: 4, from: 'g', stage: 'published', sinceMs: 2 } };
  t.same(indexShardsForWrite(published, 'k'), [4, 0], 'published: the new shard, and the parent still');
  t.same(indexShardsForWrite({ ...published, split: { parent: 0, id: 4, from: 'g', stage: 'retiring', sinceMs: 3 } }, 'k'), [4], 'retiring: the new shard alone');
});

t.test('a bucket record keeps the index that has come furthest whichever record carries it', async (t) => {
  const stages: BucketIndex[] = [
    twoShards,
    { ...twoShards, split: { parent: 0, id: 4, from: 'g', stage: 'copying', sinceMs: 1 } },
    { shards: [{ id: 0, from: '' }, { id: 4, from: 'g' }, { id: 3, from: 'm' }], split: { parent: 0, id: 4, from: 'g', stage: 'published', sinceMs: 2 } },
    { shards: [{ id: 0, from: '' }, { id: 4, from: 'g' }, { id: 3, from: 'm' }], split: { parent: 0, id: 4, from: 'g', stage: 'retiring', sinceMs: 3 } },
    { shards: [{ id: 0, from: '' }, { id: 4, from: 'g' }, { id: 3, from: 'm' }] },
  ];
  for (let i = 1; i < stages.length; i += 1) t.ok(indexProgress(stages[i] as BucketIndex) > indexProgress(stages[i - 1] as BucketIndex), `stage ${i} is further than stage ${i - 1}`);
  const record = (versionId: string, index: BucketIndex, createdMs = 5): BucketRecord => ({ name: 'b', versionId, createdMs, deleted: false, index });
  const newerButStale = record('00000000000200000000aaaa', stages[0] as BucketIndex);
  const olderButFurther = record('00000000000100000000aaaa', stages[2] as BucketIndex);
  t.same(withFurthestIndex(newerButStale, olderButFurther).index, stages[2], 'a newer record built from a stale cache keeps the split');
  t.equal(withFurthestIndex(olderButFurther, newerButStale), olderButFurther, 'a further index is kept as it is');
  t.equal(withFurthestIndex(newerButStale, record('00000000000100000000aaaa', stages[2] as BucketIndex, 9)), newerButStale, 'another incarnation of the bucket lends nothing');
});
