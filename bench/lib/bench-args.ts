/** Command-line options of the cluster benchmark. */
export interface BenchArgs {
  quick: boolean;
  sizesBytes: number[];
  concurrencies: number[];
  /** Multiplies every case's operation count (at least one operation per worker is kept). */
  opsScale: number;
  help: boolean;
}

const KiB = 1024;
const MiB = 1024 * KiB;

/** Sizes and concurrencies of a full run. */
export const FULL_SIZES_BYTES = [4 * KiB, 1 * MiB, 64 * MiB] as const;
export const FULL_CONCURRENCIES = [1, 4, 16] as const;
const QUICK_CONCURRENCIES = [1, 4] as const;

/** Usage text for `--help`. */
export const USAGE = `usage: npm run bench -- [--quick] [--sizes=4KiB,1MiB,64MiB] [--concurrency=1,4,16] [--ops-scale=1]
  --quick          short smoke run: concurrency 1 and 4, about a tenth of the operations
  --sizes=LIST     object sizes, each a number with an optional B/KiB/MiB suffix
  --concurrency=N  comma-separated numbers of requests in flight
  --ops-scale=X    multiply every case's operation count by X`;

/** Parses "4KiB", "1MiB", "64MiB", "512" (bytes). */
export function parseSize(text: string): number {
  const match = /^(\d+)\s*(B|KiB|MiB)?$/i.exec(text.trim());
  if (match === null) throw new Error(`bad size ${JSON.stringify(text)}: expected e.g. 4KiB, 1MiB, 64MiB`);
  const unit = (match[2] ?? 'B').toLowerCase();
  const sizeBytes = Number(match[1]) * (unit === 'mib' ? MiB : unit === 'kib' ? KiB : 1);
  if (sizeBytes < 1 || sizeBytes > 1024 * MiB) throw new Error(`size ${text} out of range (1 B .. 1 GiB)`);
  return sizeBytes;
}

/** "4KiB", "1MiB", "64MiB" or "1500B": the label used in case names. */
export function formatSize(sizeBytes: number): string {
  if (sizeBytes % MiB === 0) return `${sizeBytes / MiB}MiB`;
  if (sizeBytes % KiB === 0) return `${sizeBytes / KiB}KiB`;
  return `${sizeBytes}B`;
}

function parseList<T>(text: string, parse: (item: string) => T): T[] {
  const items = text.split(',').filter((item) => item.trim() !== '');
  if (items.length === 0) throw new Error(`empty list ${JSON.stringify(text)}`);
  return items.map(parse);
}

function parseConcurrency(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 256) throw new Error(`bad concurrency ${JSON.stringify(text)}: expected 1..256`);
  return n;
}

/** Parses `process.argv.slice(2)`; throws on unknown flags so typos do not silently run the full bench. */
export function parseBenchArgs(argv: readonly string[]): BenchArgs {
  let quick = false;
  let help = false;
  let sizes: number[] | undefined;
  let concurrencies: number[] | undefined;
  let opsScale = 1;
  for (const arg of argv) {
    const [name, value] = arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    if (name === '--quick') quick = true;
    else if (name === '--help' || name === '-h') help = true;
    else if (name === '--sizes' && value !== undefined) sizes = parseList(value, parseSize);
    else if (name === '--concurrency' && value !== undefined) concurrencies = parseList(value, parseConcurrency);
    else if (name === '--ops-scale' && value !== undefined) {
      opsScale = Number(value);
      if (!(opsScale > 0)) throw new Error(`bad --ops-scale ${JSON.stringify(value)}`);
    } else throw new Error(`unknown argument ${JSON.stringify(arg)}\n${USAGE}`);
  }
  return {
    quick,
    help,
    sizesBytes: sizes ?? [...FULL_SIZES_BYTES],
    concurrencies: concurrencies ?? [...(quick ? QUICK_CONCURRENCIES : FULL_CONCURRENCIES)],
    opsScale: quick ? opsScale / 10 : opsScale,
  };
}

/**
 * Operations per case: enough bytes that a case lasts about a second or more on a small machine, and at least two
 * rounds of the concurrency so the workers overlap. Large objects get few operations to keep the run to minutes.
 */
export function opsFor(sizeBytes: number, concurrency: number, opsScale: number): number {
  const targetBytes = sizeBytes >= 16 * MiB ? 256 * MiB * Math.min(concurrency, 4) : sizeBytes >= 256 * KiB ? 192 * MiB : 4 * MiB;
  const byBytes = Math.ceil(targetBytes / sizeBytes);
  const byRounds = sizeBytes >= 16 * MiB ? concurrency : concurrency * 2;
  return Math.max(concurrency, Math.round(Math.max(byBytes, byRounds) * opsScale));
}
