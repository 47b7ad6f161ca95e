import { execFile } from 'node:child_process';
import { open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const MiB = 1024 * 1024;
const CHUNK_BYTES = MiB;

/** Sequential write speed of one file, in MiB/s, for each fdatasync pattern measured. */
export interface DiskFigures {
  totalBytes: number;
  /** One fdatasync at the end: what the disk does when the page cache may gather everything. */
  syncAtEndMiBps: number;
  /** An fdatasync after every `syncEveryBytes`: closer to a store that makes each object durable before it answers. */
  syncEveryMiBps: number;
  syncEveryBytes: number;
}

/**
 * Writes `totalBytes` in 1 MiB chunks to a fresh file in `dir` (the file system the servers store on), timed from open
 * to the last fdatasync, once with a single fdatasync at the end and once with one every `syncEveryBytes`.
 */
export async function measureDisk(dir: string, totalBytes: number, syncEveryBytes: number, chunk: Uint8Array): Promise<DiskFigures> {
  if (chunk.byteLength < CHUNK_BYTES) throw new Error('measureDisk needs a 1 MiB chunk');
  const syncAtEndMiBps = await writeFile(join(dir, 'disk-sync-at-end'), totalBytes, totalBytes, chunk);
  const syncEveryMiBps = await writeFile(join(dir, 'disk-sync-every'), totalBytes, syncEveryBytes, chunk);
  return { totalBytes, syncAtEndMiBps, syncEveryMiBps, syncEveryBytes };
}

async function writeFile(path: string, totalBytes: number, syncEveryBytes: number, chunk: Uint8Array): Promise<number> {
  const startedMs = performance.now();
  const file = await open(path, 'w');
  try {
    let sinceSync = 0;
    for (let written = 0; written < totalBytes; written += CHUNK_BYTES) {
      const bytes = Math.min(CHUNK_BYTES, totalBytes - written);
      await file.write(chunk, 0, bytes);
      sinceSync += bytes;
      if (sinceSync >= syncEveryBytes || written + bytes >= totalBytes) {
        await file.datasync();
        sinceSync = 0;
      }
    }
  } finally {
    await file.close();
  }
  const seconds = (performance.now() - startedMs) / 1000;
  await rm(path, { force: true });
  return totalBytes / MiB / seconds;
}

/**
 * Writes back every dirty page of the file system holding `dir` (syncfs, through coreutils' `sync -f`):
 * run between timed windows, so that a server which answered before its data reached the disk (s3rver
 * does not fsync) does not leave its writeback to slow the next server's window.
 */
export async function flushDirtyPages(dir: string): Promise<void> {
  await promisify(execFile)('sync', ['-f', dir]);
}
