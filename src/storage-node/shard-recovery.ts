import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../common/index.js';
import { shardDataId, type ShardRef } from '../rpc/index.js';
import { METADATA_SCHEMA_VERSION, storedRef, type MetadataStore, type PreparedShard } from './metadata-store.js';
import type { SegmentLog } from './segment-log.js';
import { SEGMENT_PLACE_DIRECTORY, ensureShardDirectories, segmentPlaceOf } from './shard-paths.js';

/** What start-up recovery found and did; kept for the health report. */
export interface RecoveryReport {
  /** Temporary files of writes that a crash interrupted. */
  tmpFilesRemoved: number;
  /** Prepared shards older than the grace period: writes whose commit or abort never came. */
  stalePreparedDropped: number;
  /** Shard files no LevelDB row pointed to: renamed into place, but the prepare was never recorded (or a drop was interrupted). */
  orphanFilesRemoved: number;
  /** Registered shard files that were gone from disk, and registered segment images whose segment was. */
  missingFiles: number;
  /** Segments no row named any image of: compacted, or written by prepares that never recorded. */
  emptySegmentsRemoved: number;
  /** Schema the database was migrated from, or null when it was current. */
  migratedFromSchema: number | null;
  /** Shards waiting for repair after recovery. */
  quarantinedShards: number;
  /** Shard bytes held (counted only when the node has a capacity limit, else 0). */
  usedBytes: number;
  completedMs: number;
  durationMs: number;
}

/** What recovery needs from the store it runs for. */
export interface RecoveryContext {
  metadata: MetadataStore;
  shardDir: string;
  /** The store's segment log, opened (every segment on disk sealed). */
  segments: SegmentLog;
  /** Entries the caller removed from tmp/ before opening LevelDB (emptyDirectory). */
  tmpFilesRemoved: number;
  fsync: boolean;
  /** The store's wall clock (ms since the epoch). */
  clock: () => number;
  preparedGraceMs: number;
  countUsage: boolean;
  /** The store's own drop, so recovery and abort share one code path. */
  dropPrepared(ref: ShardRef, prepared: PreparedShard): Promise<void>;
  logger: Logger;
}

/**
 * Start-up recovery, run before the node serves anything, so no write is in flight:
 *  1. tmp/ was emptied by the caller before LevelDB opened (every write there was interrupted);
 *  2. migrates an older metadata schema;
 *  3. drops prepared shards older than the grace period. Younger ones stay: a gateway may still
 *     commit a shard this node prepared just before it restarted, and a clock that jumped back
 *     must not make fresh rows look old (a row from the future counts as young);
 *  4. walks each shard directory in name order beside the file registry (`f` rows, same order):
 *     a file without a row is removed; a row without a file is quarantined when a version the node
 *     keeps (current or noncurrent) pointed to it, and dropped otherwise;
 *  5. walks the segments beside the registry's segment places the same way: a segment no place names
 *     is removed, a place whose segment is gone is settled as a missing file is.
 * Memory stays bounded by one directory's listing, whatever the node holds.
 */
export async function recoverStore(context: RecoveryContext): Promise<RecoveryReport> {
  const started = context.clock();
  const { metadata, logger } = context;
  const { tmpFilesRemoved } = context;
  await ensureShardDirectories(context.shardDir, context.fsync);

  const schema = await metadata.schemaVersion();
  await metadata.migrate();
  // Before anything writes: every later batch changes the counts from what is loaded here.
  await metadata.usage.load();
  const migratedFromSchema = schema === 0 || schema === METADATA_SCHEMA_VERSION ? null : schema;

  let stalePreparedDropped = 0;
  for await (const row of metadata.preparedShards()) {
    if (started - row.preparedMs <= context.preparedGraceMs) continue;
    const { bucket, key, versionId, shardIndex, ...prepared } = row;
    await context.dropPrepared({ bucket, key, versionId, shardIndex }, prepared);
    stalePreparedDropped += 1;
  }

  let orphanFilesRemoved = 0;
  let missingFiles = 0;
  for (const directory of (await readdir(context.shardDir)).sort()) {
    if (!/^[0-9a-f]{2}$/.test(directory)) {
      logger.warn({ entry: directory }, 'unexpected entry in the shard directory left alone');
      continue;
    }
    const onDisk = (await readdir(join(context.shardDir, directory))).sort();
    let next = 0;
    for await (const { file, ref } of metadata.filesUnder(directory)) {
      const name = file.slice(directory.length + 1);
      while (next < onDisk.length && (onDisk[next] as string) < name) {
        await rm(join(context.shardDir, directory, onDisk[next] as string), { force: true, recursive: true });
        orphanFilesRemoved += 1;
        next += 1;
      }
      if (onDisk[next] === name) {
        next += 1;
        continue;
      }
      missingFiles += 1;
      await settleMissingFile(context, file, ref);
    }
    for (; next < onDisk.length; next += 1) {
      await rm(join(context.shardDir, directory, onDisk[next] as string), { force: true, recursive: true });
      orphanFilesRemoved += 1;
    }
  }

  let emptySegmentsRemoved = 0;
  const named = new Set<number>();
  // Places come in segment order: one look at the disk per segment.
  let lookedAt = -1;
  let present = false;
  for await (const { file, ref } of metadata.filesUnder(SEGMENT_PLACE_DIRECTORY)) {
    const place = segmentPlaceOf(file);
    if (place !== null && lookedAt !== place.segment) {
      lookedAt = place.segment;
      present = await context.segments.has(place.segment);
    }
    if (place !== null && present) {
      named.add(place.segment);
      continue;
    }
    missingFiles += 1;
    await settleMissingFile(context, file, ref);
  }
  for (const { segment } of await context.segments.list()) {
    if (named.has(segment)) continue;
    await context.segments.remove(segment);
    emptySegmentsRemoved += 1;
  }

  let quarantinedShards = 0;
  for await (const _entry of metadata.quarantined()) quarantinedShards += 1;
  const usedBytes = context.countUsage ? await storedBytes(metadata) : 0;
  const completedMs = context.clock();
  const report: RecoveryReport = {
    tmpFilesRemoved,
    stalePreparedDropped,
    orphanFilesRemoved,
    missingFiles,
    emptySegmentsRemoved,
    migratedFromSchema,
    quarantinedShards,
    usedBytes,
    completedMs,
    durationMs: completedMs - started,
  };
  const changed = tmpFilesRemoved + stalePreparedDropped + orphanFilesRemoved + missingFiles + emptySegmentsRemoved > 0 || migratedFromSchema !== null;
  if (missingFiles > 0) logger.error({ recovery: report }, 'shard files missing at start-up; quarantined for repair');
  else if (changed) logger.warn({ recovery: report }, 'recovered from an unclean stop');
  else logger.info({ recovery: report }, 'storage recovered');
  return report;
}

/**
 * A registered file that is gone: lost committed data, of the current version or of a noncurrent one the
 * node keeps, goes to quarantine under that version; a lost prepared shard is just dropped.
 */
async function settleMissingFile(context: RecoveryContext, file: string, ref: ShardRef): Promise<void> {
  const { metadata } = context;
  const current = await metadata.getObject(ref.bucket, ref.key);
  // A version's id is taken at commit, after its prepare named the file: only versions from the data id on can hold it.
  const committed = current?.file === file ? current : (await metadata.keyVersionsFrom(ref.bucket, ref.key, shardDataId(ref))).find((version) => version.file === file);
  if (committed !== undefined) {
    // The committed row's reference: the registry row was written at prepare, before the version had its id.
    await metadata.quarantine({ ...(storedRef(committed) ?? ref), reason: 'missing', detail: 'shard file missing at start-up', detectedMs: context.clock() });
    return;
  }
  const prepared = await metadata.getPrepared(ref);
  if (prepared?.file === file) {
    await metadata.dropPrepared(ref, prepared, false);
    return;
  }
  await metadata.forgetFile(file);
}

/** Removes everything in a directory (creating it if absent); returns how many entries there were. */
export async function emptyDirectory(path: string): Promise<number> {
  let entries: string[] = [];
  try {
    entries = await readdir(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await rm(path, { recursive: true, force: true });
  await mkdir(path, { recursive: true });
  return entries.length;
}

async function storedBytes(metadata: MetadataStore): Promise<number> {
  let total = 0;
  for await (const stored of metadata.objects()) total += stored.shardSizeBytes;
  for await (const row of metadata.preparedShards()) total += row.shardSizeBytes;
  return total;
}
