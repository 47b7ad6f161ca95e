/**
 * Shard store benchmark: what one storage node pays per shard write, with and without fsync, for shards
 * kept in files and kept inline in LevelDB, side by side in one run. Each operation is the node's half
 * of a PUT: prepare (stream the shard in) then commit (make it visible), on a fresh key. Reads are
 * whole-shard verified reads of what was written. Runs the ShardStore directly (no HTTP), on a
 * temporary directory of the file system under test, with a node's default free-space reserve. Shards
 * small enough to be inline also run at `--small-concurrency` writes in flight (64 by default): a node
 * of a busy cluster takes many small shards at once, and that is where writes can share a LevelDB sync.
 * Run with `npm run bench:shard`; not part of `npm test`.
 *
 *   npm run bench:shard -- [--quick] [--sizes=1KiB,32KiB,1MiB] [--concurrency=1,16] [--small-concurrency=64]
 *                          [--seconds=1.5] [--reserve=64MiB] [--dir=/mnt/disk]
 */
import { mkdtemp, rm, statfs } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import { DEFAULTS, formatVersionId, silentLogger } from '../src/common/index.js';
import { DEFAULT_INLINE_MAX_SHARD_BYTES, ShardStore, loadBlockHasher, type BlockHasher } from '../src/storage-node/index.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const ERASURE = { dataShards: 4, parityShards: 2, blockSizeBytes: 256 * KiB };
const MODES = [
  { name: 'file', inline: false, fsync: true },
  { name: 'inline', inline: true, fsync: true },
  { name: 'file', inline: false, fsync: false },
  { name: 'inline', inline: true, fsync: false },
] as const;
type Mode = (typeof MODES)[number];

/** Known statfs magic numbers, to say what kind of file system was measured. */
const FS_TYPES: Record<number, string> = {
  0xef53: 'ext4',
  0x58465342: 'xfs',
  0x9123683e: 'btrfs',
  0x01021994: 'tmpfs',
  0x794c7630: 'overlayfs',
  0x2fc12fc1: 'zfs',
};

function parseSize(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(B|KiB|MiB)?$/.exec(text.trim());
  if (match === null) throw new Error(`bad size ${text}`);
  const unit = match[2] === 'MiB' ? MiB : match[2] === 'KiB' ? KiB : 1;
  return Math.round(Number(match[1]) * unit);
}

function formatSize(bytes: number): string {
  if (bytes >= MiB && bytes % MiB === 0) return `${bytes / MiB}MiB`;
  if (bytes >= KiB && bytes % KiB === 0) return `${bytes / KiB}KiB`;
  return `${bytes}B`;
}

interface Measured {
  writesPerSec: number;
  readsPerSec: number;
  p99WriteMs: number;
  /** LevelDB writes (each one sync with fsync on) per shard write (prepare + commit). */
  levelWritesPerOp: number;
  /** Process CPU time (main thread and libuv's pool) per shard write: what a loaded machine runs short of. */
  cpuMsPerWrite: number;
}

/** Runs one case on a fresh store: timed writes at `concurrency`, then timed reads of what was written. */
async function measure(root: string, hash: BlockHasher, sizeBytes: number, concurrency: number, mode: Mode, seconds: number, reserveBytes: number): Promise<Measured> {
  const dataDir = await mkdtemp(join(root, 'case-'));
  const store = new ShardStore({
    dataDir,
    hash,
    logger: silentLogger(),
    fsync: mode.fsync,
    reserveBytes,
    inlineMaxShardBytes: mode.inline ? Number.MAX_SAFE_INTEGER : 0,
    // The file column is a file per shard whatever its size (segments are measured by bench/segment-vs-files.ts).
    segmentMaxShardBytes: 0,
  });
  await store.open();
  const levelWritesBefore = store.metadata.writeCounts.levelWrites;
  const payload = Buffer.alloc(sizeBytes, 0x5a);
  // Pieces as the node receives them from a socket: at most 64 KiB each.
  const pieces: Buffer[] = [];
  for (let i = 0; i < sizeBytes; i += 64 * KiB) pieces.push(payload.subarray(i, Math.min(sizeBytes, i + 64 * KiB)));
  let next = 0;
  const latencies: number[] = [];
  const deadline = performance.now() + seconds * 1000;
  const writer = async (): Promise<void> => {
    while (performance.now() < deadline) {
      const n = next++;
      const ref = { bucket: 'bench', key: `k/${n}`, versionId: formatVersionId(1_700_000_000_000 + n, 0, 'aaaaaaaa'), shardIndex: 0 };
      const started = performance.now();
      await store.prepare(ref, ERASURE, Readable.from(pieces, { objectMode: false }));
      await store.commit({
        record: { bucket: ref.bucket, key: ref.key, versionId: ref.versionId, deleted: false, sizeBytes: sizeBytes * 4, etag: '"x"', lastModifiedMs: 0, contentType: 'application/octet-stream', userMetadata: {}, headers: {}, checksums: {}, erasure: ERASURE },
        shardIndex: 0,
      });
      latencies.push(performance.now() - started);
    }
  };
  const writeStart = performance.now();
  const cpuStart = process.cpuUsage();
  await Promise.all(Array.from({ length: concurrency }, writer));
  const cpu = process.cpuUsage(cpuStart);
  const writeSeconds = (performance.now() - writeStart) / 1000;
  const written = latencies.length;
  const levelWrites = store.metadata.writeCounts.levelWrites - levelWritesBefore;

  let reads = 0;
  const readDeadline = performance.now() + Math.min(seconds, 1) * 1000;
  const reader = async (): Promise<void> => {
    while (performance.now() < readDeadline) {
      const n = Math.floor(Math.random() * written);
      const ref = { bucket: 'bench', key: `k/${n}`, versionId: formatVersionId(1_700_000_000_000 + n, 0, 'aaaaaaaa'), shardIndex: 0 };
      const shard = await store.openShard(ref, 0, sizeBytes);
      for await (const _chunk of shard.chunks) void _chunk;
      reads += 1;
    }
  };
  const readStart = performance.now();
  await Promise.all(Array.from({ length: concurrency }, reader));
  const readSeconds = (performance.now() - readStart) / 1000;
  await store.close();
  await rm(dataDir, { recursive: true, force: true });
  latencies.sort((a, b) => a - b);
  return {
    writesPerSec: written / writeSeconds,
    readsPerSec: reads / readSeconds,
    p99WriteMs: latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * 0.99))] ?? Number.NaN,
    levelWritesPerOp: levelWrites / Math.max(1, written),
    cpuMsPerWrite: (cpu.user + cpu.system) / 1000 / Math.max(1, written),
  };
}

function fig(value: number): string {
  if (!Number.isFinite(value)) return '-';
  return value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      sizes: { type: 'string' },
      concurrency: { type: 'string' },
      'small-concurrency': { type: 'string' },
      seconds: { type: 'string' },
      reserve: { type: 'string' },
      dir: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(
      'usage: npm run bench:shard -- [--quick] [--sizes=1KiB,32KiB,1MiB] [--concurrency=1,16] [--small-concurrency=64] [--seconds=1.5] [--reserve=64MiB] [--dir=PATH]\n',
    );
    return;
  }
  const sizes = (values.sizes ?? (values.quick ? '4KiB,32KiB,256KiB' : '1KiB,4KiB,16KiB,32KiB,64KiB,128KiB,256KiB,1MiB')).split(',').map(parseSize);
  const concurrencies = (values.concurrency ?? (values.quick ? '1,16' : '1,16')).split(',').map(Number);
  const smallConcurrencies = (values['small-concurrency'] ?? '64').split(',').filter((text) => text !== '').map(Number);
  const seconds = Number(values.seconds ?? (values.quick ? 0.5 : 1.5));
  const reserveBytes = values.reserve === undefined ? DEFAULTS.reserveBytes : parseSize(values.reserve);
  const root = await mkdtemp(join(values.dir ?? tmpdir(), 'tessera-shard-bench-'));
  const fsType = FS_TYPES[Number((await statfs(root)).type)] ?? `0x${Number((await statfs(root)).type).toString(16)}`;
  const hash = await loadBlockHasher();
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  process.stdout.write(
    `shard-bench: Node ${process.version}, ${cpu} x${cpus().length}, ${fsType} at ${root}, ${seconds}s per case\n` +
      `one write = prepare + commit of one shard on a new key; inline threshold in use: ${formatSize(DEFAULT_INLINE_MAX_SHARD_BYTES)}; ` +
      `free-space reserve ${formatSize(reserveBytes)}\n\n`,
  );
  const header = [
    'case'.padEnd(18),
    '| writes/s fsync on'.padEnd(22),
    '| writes/s fsync off'.padEnd(22),
    '| fsync cost'.padEnd(16),
    '| inline/file'.padEnd(14),
    '| reads/s'.padEnd(18),
    '| p99 write ms (fsync)'.padEnd(23),
    '| CPU ms/write (fsync)'.padEnd(23),
    '| LevelDB writes/op (fsync)',
  ].join('');
  const sub = [
    ''.padEnd(18),
    '|   file  inline'.padEnd(22),
    '|   file  inline'.padEnd(22),
    '|  file inline'.padEnd(16),
    '| fsync on'.padEnd(14),
    '|   file  inline'.padEnd(18),
    '|   file  inline'.padEnd(23),
    '|   file  inline'.padEnd(23),
    '|   file  inline',
  ].join('');
  process.stdout.write(`${header}\n${sub}\n`);
  try {
    // Warm-up, not reported: the first store of a run pays for loading code and growing caches.
    await measure(root, hash, 4 * KiB, 4, MODES[0], Math.min(seconds, 1), reserveBytes);
    for (const size of sizes) {
      const extra = size <= DEFAULT_INLINE_MAX_SHARD_BYTES ? smallConcurrencies.filter((n) => !concurrencies.includes(n)) : [];
      for (const concurrency of [...concurrencies, ...extra]) {
        const results: Measured[] = [];
        for (const mode of MODES) results.push(await measure(root, hash, size, concurrency, mode, seconds, reserveBytes));
        const [fileSync, inlineSync, fileFast, inlineFast] = results as [Measured, Measured, Measured, Measured];
        const line = [
          `shard-${formatSize(size)}-c${concurrency}`.padEnd(18),
          `| ${fig(fileSync.writesPerSec).padStart(6)} ${fig(inlineSync.writesPerSec).padStart(7)}`.padEnd(22),
          `| ${fig(fileFast.writesPerSec).padStart(6)} ${fig(inlineFast.writesPerSec).padStart(7)}`.padEnd(22),
          `| ${`${fig(fileFast.writesPerSec / fileSync.writesPerSec)}x`.padStart(5)} ${`${fig(inlineFast.writesPerSec / inlineSync.writesPerSec)}x`.padStart(6)}`.padEnd(16),
          `| ${`${fig(inlineSync.writesPerSec / fileSync.writesPerSec)}x`.padStart(8)}`.padEnd(14),
          `| ${fig(fileSync.readsPerSec).padStart(6)} ${fig(inlineSync.readsPerSec).padStart(7)}`.padEnd(18),
          `| ${fig(fileSync.p99WriteMs).padStart(6)} ${fig(inlineSync.p99WriteMs).padStart(7)}`.padEnd(23),
          `| ${fig(fileSync.cpuMsPerWrite).padStart(6)} ${fig(inlineSync.cpuMsPerWrite).padStart(7)}`.padEnd(23),
          `| ${fig(fileSync.levelWritesPerOp).padStart(6)} ${fig(inlineSync.levelWritesPerOp).padStart(7)}`,
        ].join('');
        process.stdout.write(`${line}\n`);
      }
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
  process.stdout.write(
    '\nfsync cost = writes/s without fsync / with fsync. inline/file = inline writes/s / file writes/s, both with fsync.\n' +
      'CPU ms/write = process CPU time (all threads) per write: on a shared or busy machine it varies less than writes/s.\n' +
      'LevelDB writes/op = LevelDB writes issued per shard write: 2 means prepare and commit each paid a sync of their own.\n' +
      'Compare ratios, not absolute figures: they depend on the disk and its write cache.\n',
  );
}

await main();
