/**
 * What packing shards into segment files would save a node, measured before building it
 * (docs/shard-packing.md). Two ways to make shards of one size durable, side by side, taking turns:
 *   files    the node's protocol for a fresh shard today: create it in place under one of 256
 *            directories, write, fsync, close, fsync the directory; meanwhile the collector unlinks the
 *            previous round's files, as overwrites make it do.
 *   segment  the shard, already in memory, appended to one open segment file: every shard waiting
 *            when the previous append finished goes in one writev and one fdatasync (group commit).
 * Neither writes LevelDB (both would write the same row). Prints shards/s and process CPU per shard
 * (all threads: libuv's pool does the file system calls) per round, and the segment's ratio to files.
 * `--no-directory-sync` leaves out the files' directory fsync, to see what it costs.
 *
 *   npx tsx bench/segment-vs-files.ts [--dir=PATH] [--shard-size=256KiB] [--shards=600] [--in-flight=8] [--rounds=3]
 *                                     [--no-directory-sync]
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, open, rm, unlink, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
// The node's own directory fsync, so the file column pays exactly what a node pays.
import { syncDirectory } from '../src/storage-node/shard-paths.js';
import { formatSize, parseSize } from './lib/bench-args.js';
import { median } from './lib/median.js';

const { values } = parseArgs({
  options: {
    dir: { type: 'string' },
    'shard-size': { type: 'string', default: '256KiB' },
    shards: { type: 'string', default: '600' },
    'in-flight': { type: 'string', default: '8' },
    rounds: { type: 'string', default: '3' },
    'no-directory-sync': { type: 'boolean', default: false },
  },
});
const shardBytes = parseSize(values['shard-size']);
const shards = Number(values.shards);
const inFlight = Number(values['in-flight']);
const rounds = Number(values.rounds);
if (![shards, inFlight, rounds].every((n) => Number.isInteger(n) && n > 0) || !(shardBytes > 0)) {
  console.error('usage: segment-vs-files [--dir=PATH] [--shard-size=SIZE (> 0)] [--shards=N] [--in-flight=N] [--rounds=N] (N >= 1)');
  process.exit(2);
}
const SEGMENT_MAX_BYTES = 1024 ** 3;
const DIRECTORIES = 256;

/** Runs `task(i)` for i in [0, count) with `inFlight` at a time. */
async function inParallel(count: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: inFlight }, async () => {
    while (next < count) await task(next++);
  }));
}

/** One file per shard, as the node writes a fresh shard; the round before's files are unlinked meanwhile. */
class FilePerShard {
  private readonly dir: string;
  private previous: string[] = [];

  constructor(dir: string) {
    this.dir = dir;
  }

  async round(label: string, body: Buffer): Promise<void> {
    const stale = this.previous;
    const made: string[] = [];
    const collector = (async () => {
      for (const path of stale) await unlink(path);
    })();
    await inParallel(shards, async (i) => {
      const directory = join(this.dir, (i % DIRECTORIES).toString(16).padStart(2, '0'));
      const path = join(directory, `${label}-${i}`);
      const handle = await open(path, 'wx');
      try {
        await handle.write(body, 0, body.length, 0);
        await handle.sync();
      } finally {
        await handle.close();
      }
      if (!values['no-directory-sync']) await syncDirectory(directory);
      made.push(path);
    });
    await collector;
    this.previous = made;
  }
}

/** Shards appended to one segment file; appends waiting together share one writev and one fdatasync. */
class Segment {
  private waiting: { body: Buffer; done: (err?: Error) => void }[] = [];
  private flushing = false;
  private sizeBytes = 0;
  private readonly handle: FileHandle;

  constructor(handle: FileHandle) {
    this.handle = handle;
  }

  get full(): boolean {
    return this.sizeBytes >= SEGMENT_MAX_BYTES;
  }

  append(body: Buffer): Promise<void> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ body, done: (err) => (err === undefined ? resolve() : reject(err)) });
      if (!this.flushing) void this.flush();
    });
  }

  close(): Promise<void> {
    return this.handle.close();
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    while (this.waiting.length > 0) {
      const batch = this.waiting.splice(0);
      try {
        const bodies = batch.map((entry) => entry.body);
        await this.handle.writev(bodies, this.sizeBytes);
        this.sizeBytes += bodies.reduce((sum, body) => sum + body.length, 0);
        await this.handle.datasync();
        for (const entry of batch) entry.done();
      } catch (err) {
        for (const entry of batch) entry.done(err as Error);
      }
    }
    this.flushing = false;
  }
}

/** Segments of up to 1 GiB, a new one created (and its directory synced) when the open one is full. */
class SegmentLog {
  private open: Segment | undefined;
  private count = 0;
  private readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
  }

  async round(body: Buffer): Promise<void> {
    if (this.open === undefined || this.open.full) {
      await this.open?.close();
      this.open = new Segment(await open(join(this.dir, `segment-${this.count++}`), 'wx'));
      await syncDirectory(this.dir);
    }
    const segment = this.open;
    await inParallel(shards, () => segment.append(body));
  }

  async close(): Promise<void> {
    await this.open?.close();
  }
}

interface Figures {
  shardsPerSecond: number;
  cpuMicrosPerShard: number;
}

async function timed(run: () => Promise<void>): Promise<Figures> {
  const cpu = process.cpuUsage();
  const startedMs = performance.now();
  await run();
  const seconds = (performance.now() - startedMs) / 1000;
  const used = process.cpuUsage(cpu);
  return { shardsPerSecond: shards / seconds, cpuMicrosPerShard: (used.user + used.system) / shards };
}

const root = await mkdtemp(join(values.dir ?? tmpdir(), 'segment-vs-files-'));
try {
  const filesDir = join(root, 'shards');
  const segmentDir = join(root, 'segments');
  for (let i = 0; i < DIRECTORIES; i += 1) await mkdir(join(filesDir, i.toString(16).padStart(2, '0')), { recursive: true });
  await mkdir(segmentDir);
  const files = new FilePerShard(filesDir);
  const segments = new SegmentLog(segmentDir);
  const body = randomBytes(shardBytes);
  console.log(`${shards} shards of ${formatSize(shardBytes)}, ${inFlight} in flight, ${rounds} rounds each way, in ${root}`);
  await files.round('warm-up', body);
  const rateRatios: number[] = [];
  const cpuRatios: number[] = [];
  for (let round = 0; round < rounds; round += 1) {
    const a = await timed(() => files.round(`round-${round}`, body));
    const b = await timed(() => segments.round(body));
    rateRatios.push(b.shardsPerSecond / a.shardsPerSecond);
    cpuRatios.push(b.cpuMicrosPerShard / a.cpuMicrosPerShard);
    console.log(
      `round ${round + 1}: files ${a.shardsPerSecond.toFixed(0)} shards/s, ${a.cpuMicrosPerShard.toFixed(0)} µs CPU/shard | ` +
        `segment ${b.shardsPerSecond.toFixed(0)} shards/s, ${b.cpuMicrosPerShard.toFixed(0)} µs CPU/shard`,
    );
  }
  console.log(`segment / files (median of rounds): ${median(rateRatios).toFixed(2)}x shards/s, ${median(cpuRatios).toFixed(2)}x CPU per shard`);
  await segments.close();
} finally {
  await rm(root, { recursive: true, force: true });
}
