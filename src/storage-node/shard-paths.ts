import { createHash } from 'node:crypto';
import { mkdir, open, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { shardDataId, type ShardRef } from '../rpc/index.js';
import type { SegmentPlace } from './segment-log.js';
import { ShardStoreError } from './shard-store-error.js';

/** Fsyncs a directory so a rename into it survives a power loss. */
export async function syncDirectory(path: string): Promise<void> {
  const dir = await open(path, 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

/** A shard's file name: a hash of its identity, so no wire string ever becomes part of a path. */
export function shardFileName(ref: ShardRef): string {
  const digest = createHash('sha256')
    .update(`${ref.bucket}\0${ref.key}\0${shardDataId(ref)}\0${ref.shardIndex}`)
    .digest('hex')
    .slice(0, 40);
  return `${digest.slice(0, 2)}/${digest}`;
}

/** Every name shardFileName makes, and nothing else: no separator but the one, no `..`, no absolute path. */
const SHARD_FILE_NAME = /^[0-9a-f]{2}\/[0-9a-f]{40}$/;

/**
 * The path of a recorded shard file inside `shardDir`. Records name their files; a name that is not one
 * shardFileName makes (a damaged or forged record) is refused, so no record can make the node read or
 * remove a file outside its data directory.
 */
export function shardFilePath(shardDir: string, file: string): string {
  if (!SHARD_FILE_NAME.test(file)) throw new ShardStoreError('ShardCorrupt', 'a record names a shard file that is not a shard file name');
  return join(shardDir, file);
}

/** What rows name a segment shard's place with, before the segment: the registry holds these rows in one range. */
export const SEGMENT_PLACE_DIRECTORY = 'seg';
const SEGMENT_PLACE = /^seg\/([0-9a-f]{16})\/([0-9a-f]{12})\/([0-9a-f]{8})$/;

/**
 * How rows name a shard kept in a segment, in the field that names a shard file otherwise:
 * `seg/<segment>/<offset>/<length>` in fixed-width hex, so the file registry sorts a segment's images
 * together and in offset order.
 */
export function segmentPlaceName(place: SegmentPlace): string {
  return `${SEGMENT_PLACE_DIRECTORY}/${segmentPrefixHex(place.segment)}/${place.offsetBytes.toString(16).padStart(12, '0')}/${place.lengthBytes.toString(16).padStart(8, '0')}`;
}

/** The registry prefix of one segment's places (every place in it starts with this). */
export function segmentPlacePrefix(segment: number): string {
  return `${SEGMENT_PLACE_DIRECTORY}/${segmentPrefixHex(segment)}/`;
}

function segmentPrefixHex(segment: number): string {
  return segment.toString(16).padStart(16, '0');
}

/** The segment place a row names, or null when it names a shard file (or nothing a node writes). */
export function segmentPlaceOf(file: string): SegmentPlace | null {
  const match = SEGMENT_PLACE.exec(file);
  if (match === null) return null;
  return { segment: Number.parseInt(match[1] as string, 16), offsetBytes: Number.parseInt(match[2] as string, 16), lengthBytes: Number.parseInt(match[3] as string, 16) };
}

/**
 * Creates the shard directory and its 256 fan-out subdirectories once, durably, so writes never create
 * directories. At a restart they exist: one listing finds them, rather than 256 mkdir calls per node.
 */
export async function ensureShardDirectories(shardDir: string, fsync: boolean): Promise<void> {
  await mkdir(shardDir, { recursive: true });
  const present = new Set(await readdir(shardDir));
  for (let i = 0; i < 256; i += 1) {
    const name = i.toString(16).padStart(2, '0');
    if (!present.has(name)) await mkdir(join(shardDir, name), { recursive: true });
  }
  // Synced at every start all the same: directories an earlier start made may not have reached the disk.
  if (fsync) await syncDirectory(shardDir);
}
