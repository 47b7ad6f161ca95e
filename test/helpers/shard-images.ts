import { open, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { CHECKSUM_BYTES, SHARD_FORMAT_VERSION, SHARD_HEADER_BYTES, SHARD_MAGIC } from '../../src/storage-node/shard-file.js';

/** Where one shard image is on a node's disk: a file of its own (offset 0), or a place in a segment. */
export interface ShardImageLocation {
  path: string;
  offsetBytes: number;
  /** The image's length: header, data and checksums. */
  lengthBytes: number;
  /** The data id its header names. */
  dataId: string;
  kind: 'file' | 'segment';
}

async function entries(path: string): Promise<string[]> {
  return readdir(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [];
    throw err;
  });
}

/** The data id a shard header names, and how long the image it starts is. */
function parseHeader(header: Buffer): { dataId: string; imageBytes: number } {
  const chunkBytes = header.readUInt32LE(12);
  const shardSizeBytes = Number(header.readBigUInt64LE(24));
  const chunks = chunkBytes === 0 ? 0 : Math.ceil(shardSizeBytes / chunkBytes);
  return { dataId: header.toString('latin1', 32, 56), imageBytes: SHARD_HEADER_BYTES + shardSizeBytes + chunks * CHECKSUM_BYTES };
}

const MAGIC_BYTES = Buffer.alloc(4);
MAGIC_BYTES.writeUInt32LE(SHARD_MAGIC, 0);

/** Whether a shard header starts at `offset`: its magic and a format version this code knows. */
function headerAt(segment: Buffer, offset: number): boolean {
  return offset + SHARD_HEADER_BYTES <= segment.length && segment.readUInt32LE(offset) === SHARD_MAGIC && segment.readUInt16LE(offset + 4) === SHARD_FORMAT_VERSION;
}

/**
 * The images in one segment's bytes, walked from header to header. Where no header starts (an image
 * lost, its bytes zeroed), the walk goes on at the next shard magic: a lost image's length is in the
 * header it lost, so stepping over it by a guessed length would read the images behind it out of step.
 */
export function segmentImages(segment: Buffer): Omit<ShardImageLocation, 'path' | 'kind'>[] {
  const images: Omit<ShardImageLocation, 'path' | 'kind'>[] = [];
  let offsetBytes = 0;
  while (offsetBytes + SHARD_HEADER_BYTES <= segment.length) {
    if (!headerAt(segment, offsetBytes)) {
      const next = segment.indexOf(MAGIC_BYTES, offsetBytes + 1);
      if (next < 0) break;
      offsetBytes = next;
      continue;
    }
    const { dataId, imageBytes } = parseHeader(segment.subarray(offsetBytes, offsetBytes + SHARD_HEADER_BYTES));
    if (offsetBytes + imageBytes > segment.length) break;
    images.push({ offsetBytes, lengthBytes: imageBytes, dataId });
    offsetBytes += imageBytes;
  }
  return images;
}

/**
 * Every shard image on a node's disk, read from the files themselves as a tool would (no LevelDB, so the
 * node may be running or stopped): each file under shards/, and each image appended to a segment, walked
 * from header to header (past lost images). Images that no row names any more (overwritten, aborted,
 * replaced by a repair) are listed too: a caller looking for one data id finds every copy the disk
 * still has, and only the node knows which of them is live.
 */
export async function shardImagesOn(dataDir: string): Promise<ShardImageLocation[]> {
  const found: ShardImageLocation[] = [];
  const header = Buffer.alloc(SHARD_HEADER_BYTES);
  for (const sub of await entries(join(dataDir, 'shards'))) {
    for (const name of await entries(join(dataDir, 'shards', sub))) {
      const path = join(dataDir, 'shards', sub, name);
      const handle = await open(path, 'r');
      try {
        await handle.read(header, 0, SHARD_HEADER_BYTES, 0);
        const { dataId, imageBytes } = parseHeader(header);
        found.push({ path, offsetBytes: 0, lengthBytes: imageBytes, dataId, kind: 'file' });
      } finally {
        await handle.close();
      }
    }
  }
  for (const name of (await entries(join(dataDir, 'segments'))).sort()) {
    const path = join(dataDir, 'segments', name);
    for (const image of segmentImages(await readFile(path))) found.push({ path, ...image, kind: 'segment' });
  }
  return found;
}

/** The shard images on a node's disk whose header names `dataId`. */
export async function shardImagesOf(dataDir: string, dataId: string): Promise<ShardImageLocation[]> {
  return (await shardImagesOn(dataDir)).filter((image) => image.dataId === dataId);
}

/** Overwrites three bytes of a shard image's data, past its header: rot its checksums catch. */
export async function rotShardImage(image: Pick<ShardImageLocation, 'path' | 'offsetBytes'>): Promise<void> {
  const handle = await open(image.path, 'r+');
  try {
    await handle.write(Buffer.from('rot'), 0, 3, image.offsetBytes + SHARD_HEADER_BYTES + 1000);
  } finally {
    await handle.close();
  }
}

/**
 * Loses a shard image's bytes: a file is removed; a segment image is overwritten with zeros (one image
 * cannot be removed from a segment without losing its neighbours), which its checksums then refuse.
 */
export async function loseShardImage(image: ShardImageLocation): Promise<void> {
  if (image.kind === 'file') {
    await rm(image.path);
    return;
  }
  const handle = await open(image.path, 'r+');
  try {
    await handle.write(Buffer.alloc(image.lengthBytes), 0, image.lengthBytes, image.offsetBytes);
  } finally {
    await handle.close();
  }
}
