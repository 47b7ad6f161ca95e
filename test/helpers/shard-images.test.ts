import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { t } from 'tap';
import { loadBlockHasher } from '../../src/storage-node/index.js';
import { encodeShardImage } from '../../src/storage-node/shard-file.js';
import { seededBytes } from './bytes.js';
import { loseShardImage, segmentImages, shardImagesOn } from './shard-images.js';

const hash = await loadBlockHasher();

/** A shard image of `size` bytes whose header names data id `dataId` (24 characters, as a version id is). */
function image(dataId: string, size: number): Buffer {
  return encodeShardImage([seededBytes(size, size)], { shardIndex: 1, dataShards: 4, parityShards: 2, blockSizeBytes: 256 * 1024, versionId: dataId }, hash, 1000);
}

const ids = ['0000000000010000abcdef01', '0000000000010000abcdef02', '0000000000010000abcdef03'];

t.test('a segment is walked from image to image, and past a lost (zeroed) image of any length to the images behind it', async (t) => {
  // 3,001 bytes of shard: an image whose length is no multiple of the header's, so a walk that stepped
  // over zeros a header at a time would read the image behind it out of step.
  for (const lostSize of [0, 1, 999, 3001]) {
    const images = [image(ids[0] as string, 1500), image(ids[1] as string, lostSize), image(ids[2] as string, 2500)];
    const segment = Buffer.concat(images);
    t.same(
      segmentImages(segment).map((found) => found.dataId),
      ids,
      `${lostSize} B lost image: all three found while whole`,
    );
    const lostAt = (images[0] as Buffer).length;
    segment.fill(0, lostAt, lostAt + (images[1] as Buffer).length);
    t.same(
      segmentImages(segment),
      [
        { offsetBytes: 0, lengthBytes: (images[0] as Buffer).length, dataId: ids[0] },
        { offsetBytes: lostAt + (images[1] as Buffer).length, lengthBytes: (images[2] as Buffer).length, dataId: ids[2] },
      ],
      `${lostSize} B lost image: the images before and after it are found where they are`,
    );
  }
});

t.test('shardImagesOn finds every copy of a shard, in files and segments, and a lost segment image hides none behind it', async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'tessera-shard-images-'));
  t.teardown(() => rm(dataDir, { recursive: true, force: true }));
  await mkdir(join(dataDir, 'shards', '00'), { recursive: true });
  await mkdir(join(dataDir, 'segments'));
  await writeFile(join(dataDir, 'shards', '00', 'a'), image(ids[1] as string, 70_000));
  await writeFile(join(dataDir, 'segments', '0000000001'), Buffer.concat([image(ids[0] as string, 1234), image(ids[1] as string, 4321), image(ids[2] as string, 10)]));
  const before = await shardImagesOn(dataDir);
  t.same(before.map((found) => [found.kind, found.dataId]), [['file', ids[1]], ['segment', ids[0]], ['segment', ids[1]], ['segment', ids[2]]]);
  await loseShardImage(before[1] as (typeof before)[number]);
  const after = await shardImagesOn(dataDir);
  t.same(after.map((found) => [found.kind, found.dataId]), [['file', ids[1]], ['segment', ids[1]], ['segment', ids[2]]], 'only the lost image is gone');
});
