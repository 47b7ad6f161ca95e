/** Command-line options of `npm run bench`. */
export interface BenchArgs {
  quick: boolean;
  /** Multiplies every case's object count (at least one object per client is kept). */
  opsScale: number;
  /** Timed windows of each matrix line per target, the targets taking turns; the median is reported. */
  rounds: number;
  torch: boolean;
  /** The encryption table (plain against SSE-S3 and SSE-C on tessera). */
  sse: boolean;
  /** Only the encryption table: no disk ceiling, matrix or DataLoader. */
  sseOnly: boolean;
  /** The change log's table (PUTs to a bucket with a notification configuration against plain ones). */
  events: boolean;
  /** Only the change log's table. */
  eventsOnly: boolean;
  keepData: boolean;
  /** Ceph RGW as a peer, when it is installed. */
  rgw: boolean;
  /** The peers' Ceph bring-up scripts (`--ceph-scripts`); undefined: look in the usual places. */
  cephScripts: string | undefined;
  /** The listing table. */
  listing: boolean;
  /** Keys the listing table fills and lists on each server; undefined: LISTING_KEYS (a tenth with --quick). */
  listingKeys: number | undefined;
  help: boolean;
}

/** Keys of the listing table by default; `--listing-keys 1000000` for the large run. */
export const LISTING_KEYS = 100_000;

const KiB = 1024;
const MiB = 1024 * KiB;

/** A figure the performance issue asks for, in the unit it is stated in. */
export interface Goal {
  value: number;
  unit: 'ops/s' | 'MiB/s';
}

/** One line of the matrix: `objects` objects of `sizeBytes`, PUT then GET by `clients` concurrent clients. */
export interface Workload {
  sizeBytes: number;
  objects: number;
  clients: number;
  goals: { put: Goal; get: Goal };
}

/** The matrix of the performance issue, with its targets. */
export const MATRIX: readonly Workload[] = [
  { sizeBytes: 4 * KiB, objects: 2000, clients: 16, goals: { put: { value: 900, unit: 'ops/s' }, get: { value: 2200, unit: 'ops/s' } } },
  { sizeBytes: 1 * MiB, objects: 200, clients: 8, goals: { put: { value: 250, unit: 'MiB/s' }, get: { value: 460, unit: 'MiB/s' } } },
  { sizeBytes: 64 * MiB, objects: 8, clients: 2, goals: { put: { value: 270, unit: 'MiB/s' }, get: { value: 640, unit: 'MiB/s' } } },
];

/** The DataLoader table: `objects` objects of `sizeBytes` read by `numWorkers` workers in batches of `batchSize`. */
export const TORCH_WORKLOAD = { sizeBytes: 100 * KiB, objects: 5000, numWorkers: 4, batchSize: 32 } as const;

/** `--quick` divides every object count by this. */
const QUICK_DIVISOR = 10;

/** Usage text for `--help`. */
export const USAGE = `usage: npm run bench -- [--quick] [--ops-scale=X] [--rounds=N] [--no-torch] [--no-rgw] [--listing-keys N] [--keep-data]
  Starts tessera dev, a Fastify null server, s3rver and (when Ceph is installed) a fresh Ceph RGW and measures, for each of
  ${MATRIX.map((w) => `${formatSize(w.sizeBytes)} x ${w.objects} at ${w.clients} clients`).join(', ')},
  PUT then GET of the same objects (every GET verified), the CPU of each process in each timed
  window, a raw-disk fdatasync write, a PyTorch DataLoader reading ${TORCH_WORKLOAD.objects} x ${formatSize(TORCH_WORKLOAD.sizeBytes)}, and
  tessera's encrypted (SSE-S3, SSE-C) against plain PUT and GET at 1MiB and 64MiB, PUTs whose events the
  change log delivers to a webhook against plain PUTs at 4KiB and 1MiB; then boto3's listings of
  ${LISTING_KEYS.toLocaleString('en-US')} keys on tessera, RGW and s3rver. Ends with the README's tables in markdown.
  --quick        smoke run (a tenth of the objects and listing keys, a smaller disk write), a few minutes
  --ops-scale=X  multiply every object count by X
  --rounds=N     time each matrix line N times per server, the servers taking turns, and report the
                 median round with every round's ratio to each peer (for a machine whose speed drifts)
  --no-torch     skip the PyTorch DataLoader table
  --no-sse       skip the encrypted-against-plain table
  --sse-only     run only the encrypted-against-plain table
  --no-events    skip the change log's table (PUTs notified to a webhook against plain PUTs)
  --events-only  run only the change log's table
  --no-rgw       leave Ceph RGW out (otherwise it runs when radosgw is on PATH and the scripts are found)
  --ceph-scripts DIR  the peers' Ceph bring-up scripts (start.sh; default: $TESSERA_PEERS_DIR/ceph, or
                 ../shared/peers/ceph beside the repository)
  --listing-keys N  keys of the listing table (default ${LISTING_KEYS.toLocaleString('en-US')}; --quick: a tenth)
  --no-listing   skip the listing table
  --keep-data    leave the temporary data directory in place and print where it is
Exits 0 unless a request failed or a server did not start; a missed target is reported, not fatal.`;

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

/** Parses `process.argv.slice(2)`; throws on unknown flags so typos do not silently run the full bench. */
export function parseBenchArgs(argv: readonly string[]): BenchArgs {
  const args: BenchArgs = {
    quick: false,
    opsScale: 1,
    rounds: 1,
    torch: true,
    sse: true,
    sseOnly: false,
    events: true,
    eventsOnly: false,
    keepData: false,
    rgw: true,
    cephScripts: undefined,
    listing: true,
    listingKeys: undefined,
    help: false,
  };
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i] as string;
    const [name, inline] = arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    let value = inline;
    // Flags that take a value accept it as the next argument too.
    if (value === undefined && VALUE_FLAGS.has(name) && i + 1 < argv.length) value = argv[(i += 1)];
    if (name === '--quick') args.quick = true;
    else if (name === '--no-rgw') args.rgw = false;
    else if (name === '--no-listing') args.listing = false;
    else if (name === '--ceph-scripts' && value !== undefined && value !== '') args.cephScripts = value;
    else if (name === '--listing-keys' && value !== undefined) {
      args.listingKeys = Number(value);
      if (!Number.isInteger(args.listingKeys) || args.listingKeys < 1 || args.listingKeys > 10_000_000) throw new Error(`bad --listing-keys ${JSON.stringify(value)}: expected a whole number from 1 to 10,000,000`);
    }
    else if (name === '--help' || name === '-h') args.help = true;
    else if (name === '--no-torch') args.torch = false;
    else if (name === '--no-sse') args.sse = false;
    else if (name === '--sse-only') args.sseOnly = true;
    else if (name === '--no-events') args.events = false;
    else if (name === '--events-only') args.eventsOnly = true;
    else if (name === '--keep-data') args.keepData = true;
    else if (name === '--ops-scale' && value !== undefined) {
      args.opsScale = Number(value);
      if (!(args.opsScale > 0)) throw new Error(`bad --ops-scale ${JSON.stringify(value)}`);
    } else if (name === '--rounds' && value !== undefined) {
      args.rounds = Number(value);
      if (!Number.isInteger(args.rounds) || args.rounds < 1) throw new Error(`bad --rounds ${JSON.stringify(value)}: expected a whole number >= 1`);
    } else throw new Error(`unknown argument ${JSON.stringify(arg)}\n${USAGE}`);
  }
  return args;
}

/** Flags that take a value (`--flag=value` or `--flag value`). */
const VALUE_FLAGS: ReadonlySet<string> = new Set(['--ops-scale', '--rounds', '--ceph-scripts', '--listing-keys']);

/** Keys the listing table uses in this run. */
export function listingKeyCount(args: BenchArgs): number {
  return args.listingKeys ?? (args.quick ? LISTING_KEYS / QUICK_DIVISOR : LISTING_KEYS);
}

/** How many objects a run uses where a full run uses `objects`: scaled, never fewer than `atLeast`. */
export function scaledCount(objects: number, args: BenchArgs, atLeast: number): number {
  return Math.max(atLeast, Math.round((objects * args.opsScale) / (args.quick ? QUICK_DIVISOR : 1)));
}
