import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { formatVersionId, silentLogger } from '../../src/common/index.js';
import type { ObjectRecord, ShardRef } from '../../src/rpc/index.js';
import { ShardStore, loadBlockHasher, type ShardStoreOptions } from '../../src/storage-node/index.js';
import { segmentName } from '../../src/storage-node/segment-log.js';
import { SEGMENT_PLACE_DIRECTORY, segmentPlaceOf } from '../../src/storage-node/shard-paths.js';

/** Erasure parameters every store test writes with. */
export const ERASURE = { dataShards: 4, parityShards: 2, blockSizeBytes: 256 * 1024 } as const;

const hash = await loadBlockHasher();

/** The n-th version id of a test: later n, later version. */
export function versionId(n: number): string {
  return formatVersionId(1_700_000_000_000 + n, 0, 'aaaaaaaa');
}

/** A shard reference in bucket "b". */
export function shardRef(key: string, version: number, shardIndex = 0): ShardRef {
  return { bucket: 'b', key, versionId: versionId(version), shardIndex };
}

/** A minimal object record for a shard reference. */
export function recordFor(ref: ShardRef, sizeBytes: number, deleted = false): ObjectRecord {
  return {
    bucket: ref.bucket,
    key: ref.key,
    versionId: ref.versionId,
    deleted,
    sizeBytes,
    etag: '"0"',
    lastModifiedMs: 0,
    contentType: 'application/octet-stream',
    userMetadata: {},
    headers: {},
    checksums: {},
    erasure: { ...ERASURE },
  };
}

/**
 * Store thresholds that put small test shards in each of the three places a node keeps them: inline in
 * LevelDB up to 1,000 B, appended to a segment up to 100,000 B, a file of its own above.
 */
export const SMALL_THRESHOLDS = { inlineMaxShardBytes: 1000, segmentMaxShardBytes: 100_000 } as const;
/** A shard size for each place under SMALL_THRESHOLDS: three chunks for a file, two for a segment. */
export const SIZE_IN = { inline: 500, segment: 65_536 + 123, file: 3 * 65_536 + 123 } as const;

/** Where a version's shard image is on disk: its own file, or its segment and the image's first byte there. */
export async function shardImageAt(dataDir: string, store: ShardStore, ref: ShardRef): Promise<{ path: string; offsetBytes: number; kind: 'file' | 'segment' }> {
  const stored = await store.metadata.getVersion(ref.bucket, ref.key, ref.versionId);
  const file = stored?.file;
  if (file === undefined || file === null) throw new Error(`no file or segment holds ${ref.key} ${ref.versionId}`);
  const place = segmentPlaceOf(file);
  if (place === null) return { path: join(dataDir, 'shards', file), offsetBytes: 0, kind: 'file' };
  return { path: join(dataDir, 'segments', segmentName(place.segment)), offsetBytes: place.offsetBytes, kind: 'segment' };
}

/** The segment places the node's registry holds (live segment images, prepared or committed). */
export async function segmentImages(store: ShardStore): Promise<string[]> {
  const places: string[] = [];
  for await (const { file } of store.metadata.filesUnder(SEGMENT_PLACE_DIRECTORY)) places.push(file);
  return places;
}

/** A fresh temporary directory, removed when `t` ends. */
export async function tempDir(t: { teardown(fn: () => Promise<void>): void }, name: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `tessera-${name}-`));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Opens a shard store on `dataDir` (running start-up recovery). */
export async function openStore(dataDir: string, options: Partial<ShardStoreOptions> = {}): Promise<ShardStore> {
  const store = new ShardStore({ dataDir, hash, logger: silentLogger(), ...options });
  await store.open();
  return store;
}

/** Streams `bytes` to prepare in `pieces` pieces. */
export async function prepareBytes(store: ShardStore, ref: ShardRef, bytes: Buffer, pieces = 3, options: { fresh?: boolean } = {}): Promise<number> {
  const step = Math.max(1, Math.ceil(bytes.length / pieces));
  const parts: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += step) parts.push(bytes.subarray(i, i + step));
  return store.prepare(ref, ERASURE, Readable.from(parts, { objectMode: false }), undefined, options);
}

/** Prepares and commits one shard. */
export async function writeShard(store: ShardStore, ref: ShardRef, bytes: Buffer): Promise<void> {
  await prepareBytes(store, ref, bytes);
  await store.commit({ record: recordFor(ref, bytes.length * ERASURE.dataShards), shardIndex: ref.shardIndex });
}

/** Reads a committed shard range fully (checksums verified). */
export async function readShard(store: ShardStore, ref: ShardRef, offsetBytes = 0, lengthBytes = Number.MAX_SAFE_INTEGER): Promise<Buffer> {
  const shard = await store.openShard(ref, offsetBytes, lengthBytes);
  const parts: Buffer[] = [];
  for await (const part of shard.chunks) parts.push(part);
  return Buffer.concat(parts);
}
