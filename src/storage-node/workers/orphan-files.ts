import { lstat, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { FileRows } from '../metadata/row-families.js';

/** What one sweep removed. */
export interface SweepResult {
  /** Entries looked at, for pacing. */
  examined: number;
  files: number;
  bytes: number;
}

/** Entries of a directory; none when it does not exist. */
async function entriesOf(path: string): Promise<string[]> {
  try {
    return await readdir(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/** The file's identity and age, or null when it is gone (removed by its own write path meanwhile). */
async function statOf(path: string): Promise<{ ino: number; mtimeMs: number; size: number; isFile: boolean } | null> {
  try {
    const stats = await lstat(path);
    return { ino: stats.ino, mtimeMs: stats.mtimeMs, size: stats.size, isFile: stats.isFile() };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/**
 * Removes the files of one shard subdirectory (`shards/<2 hex>`) that no `f` row registers and that
 * were last written more than `settleMs` ago. Start-up recovery does the same with no age check, since
 * nothing is in flight then; a running node needs the age, because a write renames its file into place
 * before it records the row. The registry is read once per directory (memory bounded by one
 * directory's listing, as in recovery) and asked again just before a removal, and the file must still
 * be the one that was judged (same inode), so a write that lands meanwhile is left alone.
 */
export async function sweepShardDirectory(
  files: FileRows,
  shardDir: string,
  directory: string,
  nowMs: number,
  settleMs: number,
  signal: AbortSignal,
  inUse: (path: string) => boolean = () => false,
): Promise<SweepResult> {
  const result: SweepResult = { examined: 0, files: 0, bytes: 0 };
  const names = await entriesOf(join(shardDir, directory));
  if (names.length === 0) return result;
  const registered = new Set<string>();
  for await (const { file } of files.filesUnder(directory)) registered.add(file);
  for (const name of names) {
    signal.throwIfAborted();
    result.examined += 1;
    const file = `${directory}/${name}`;
    if (registered.has(file)) continue;
    const path = join(shardDir, directory, name);
    if (inUse(path)) continue;
    const before = await statOf(path);
    if (before === null || !before.isFile || nowMs - before.mtimeMs < settleMs) continue;
    if (await files.hasFile(file)) continue;
    const now = await statOf(path);
    if (now === null || now.ino !== before.ino || now.mtimeMs !== before.mtimeMs) continue;
    await rm(path, { force: true });
    result.files += 1;
    result.bytes += before.size;
  }
  return result;
}

/**
 * Removes temporary files last written more than `settleMs` ago that no write in progress owns
 * (`inUse`: a write slowed by a busy disk keeps its file however long it takes). A write streams into
 * its temporary file and removes it on every failure, so only a failed removal leaves one behind while
 * the node runs; start-up recovery empties the directory outright.
 */
export async function sweepTmpDirectory(
  tmpDir: string,
  nowMs: number,
  settleMs: number,
  signal: AbortSignal,
  inUse: (path: string) => boolean = () => false,
): Promise<SweepResult> {
  const result: SweepResult = { examined: 0, files: 0, bytes: 0 };
  for (const name of await entriesOf(tmpDir)) {
    signal.throwIfAborted();
    result.examined += 1;
    const path = join(tmpDir, name);
    if (inUse(path)) continue;
    const stats = await statOf(path);
    if (stats === null || nowMs - stats.mtimeMs < settleMs) continue;
    await rm(path, { force: true, recursive: true });
    result.files += 1;
    result.bytes += stats.isFile ? stats.size : 0;
  }
  return result;
}
