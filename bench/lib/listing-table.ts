import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { figure, TARGET_TITLES, type Absent } from './result-table.js';
import { readmeNumber } from './markdown-table.js';
import { runCase, type CaseResult } from './run-case.js';
import type { Target, TargetName } from './targets.js';

const SCRIPT = fileURLToPath(new URL('../listing-bench.py', import.meta.url));
/** Pythons tried in order: the one on PATH, then Debian's (where python3-boto3 installs). */
const PYTHONS = ['python3', '/usr/bin/python3'] as const;
/** Key prefixes the keys are spread over (listing-bench.py's --prefixes default). */
export const LISTING_PREFIXES = 20;
/** Size of every listed object. */
export const LISTING_OBJECT_BYTES = 1024;
/** Servers the listing table runs against (the null server stores nothing to list). */
export const LISTING_TARGETS = ['tessera', 'rgw', 's3rver'] as const satisfies readonly TargetName[];
/** ListObjectsV2's page size, as the paginator asks for it. */
const PAGE_KEYS = 1000;

/** The four listings of listing-bench.py, in its order. */
export const LISTING_CASES = ['flat', 'delimiter', 'prefix', 'start-after'] as const;
export type ListingCaseName = (typeof LISTING_CASES)[number];

const CASE_LABELS: Readonly<Record<ListingCaseName, string>> = {
  flat: 'flat, all pages',
  delimiter: "Delimiter='/' at the root",
  prefix: 'one prefix (p03/)',
  'start-after': 'one page after a deep StartAfter',
};

/** One timed listing, as listing-bench.py `list --json` prints it. */
export interface ListingCase {
  case: ListingCaseName;
  seconds: number;
  keys: number;
  prefixes: number;
  pages: number;
  /** The server's error answer that ended the listing ("page 2: InternalError (HTTP 500)"), or null. */
  error: string | null;
}

/** One server's listing run: the fill, then each listing (or why they did not run). */
export interface ListingRow {
  target: TargetName;
  fill: CaseResult;
  cases: readonly ListingCase[];
  /** What went wrong and fails the run: failed PUTs, a wrong count, a script that failed, an error from tessera. */
  problems: readonly string[];
  /** A peer's error answer to a listing: shown in its cell and below the table, a fact about the peer, not a failure of the run. */
  notes: readonly string[];
}

/** The i-th key of the fill: the same names as listing-bench.py's key(), which lists them. */
export function listingKey(index: number): string {
  return `p${String(index % LISTING_PREFIXES).padStart(2, '0')}/obj-${String(index).padStart(8, '0')}`;
}

/** The StartAfter key of the deep listing, as listing-bench.py's deep_key() picks it: half way through the last prefix. */
export function deepStartAfter(keys: number): string {
  const perPrefix = Math.floor(keys / LISTING_PREFIXES);
  return listingKey(LISTING_PREFIXES - 1 + LISTING_PREFIXES * Math.floor(perPrefix / 2));
}

/** What each listing must return for `keys` keys: a wrong count means the server listed wrongly (or the fill failed). */
export function expectedListing(keys: number): Record<ListingCaseName, { keys: number; prefixes: number }> {
  // Keys i with i % P == r: floor((keys - 1 - r) / P) + 1 of them.
  const inPrefix = (r: number): number => (keys > r ? Math.floor((keys - 1 - r) / LISTING_PREFIXES) + 1 : 0);
  // After deepStartAfter: the rest of the last prefix (its keys sort by index), that is those of a higher index.
  const last = LISTING_PREFIXES - 1;
  const after = Math.max(0, inPrefix(last) - Math.floor(Math.floor(keys / LISTING_PREFIXES) / 2) - 1);
  return {
    flat: { keys, prefixes: 0 },
    delimiter: { keys: 0, prefixes: Math.min(keys, LISTING_PREFIXES) },
    prefix: { keys: inPrefix(3), prefixes: 0 },
    'start-after': { keys: Math.min(PAGE_KEYS, after), prefixes: 0 },
  };
}

/**
 * Listings that were not run, failed, or returned other counts than `expected` says, as problem lines; with
 * `errorsAllowed` (a peer) a listing the server answered with an error is not one.
 */
export function listingMismatches(cases: readonly ListingCase[], keys: number, errorsAllowed = false): string[] {
  const expected = expectedListing(keys);
  const problems: string[] = [];
  for (const name of LISTING_CASES) {
    const found = cases.find((c) => c.case === name);
    const want = expected[name];
    if (found === undefined) problems.push(`${name}: not run`);
    else if (found.error !== null) {
      if (!errorsAllowed) problems.push(`${name}: failed on ${found.error}`);
    } else if (found.keys !== want.keys || found.prefixes !== want.prefixes) {
      problems.push(`${name}: ${found.keys} keys and ${found.prefixes} prefixes, expected ${want.keys} and ${want.prefixes}`);
    }
  }
  return problems;
}

/** The first python that imports boto3, or why none does. */
export async function findBoto3Python(): Promise<{ python: string; version: string } | { skipped: string }> {
  const reasons: string[] = [];
  for (const python of PYTHONS) {
    try {
      const version = await run(python, ['-c', 'import boto3; print(boto3.__version__)'], 60_000);
      return { python, version: version.trim() };
    } catch (err) {
      reasons.push(`${python}: ${(err instanceof Error ? err.message : String(err)).split('\n').find((line) => /Error|not found|ENOENT/.test(line)) ?? 'failed'}`);
    }
  }
  return { skipped: `no python with boto3 (${reasons.join('; ')}); on Debian: apt-get install python3-boto3` };
}

/** Runs listing-bench.py `list --json` against `target`'s `bucket` of `keys` keys and returns its listings. */
export async function runListings(python: string, target: Target, bucket: string, keys: number, timeoutMs: number, signal: AbortSignal): Promise<ListingCase[]> {
  const args = [
    SCRIPT,
    'list',
    '--json',
    '--endpoint',
    target.endpoint,
    '--access-key',
    target.accessKeyId,
    '--secret-key',
    target.secretAccessKey,
    '--bucket',
    bucket,
    '--keys',
    String(keys),
    '--prefixes',
    String(LISTING_PREFIXES),
  ];
  const out = await run(python, args, timeoutMs, signal);
  return out
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as ListingCase);
}

/** Runs `command` to its end and resolves with its output; `signal` (the bench stopping) kills it. */
function run(command: string, args: readonly string[], timeoutMs: number, signal?: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { timeout: timeoutMs, maxBuffer: 1024 * 1024, killSignal: 'SIGKILL', ...(signal === undefined ? {} : { signal }) }, (err, stdout, stderr) => {
      if (err === null) resolve(stdout);
      else reject(new Error(`${command} ${args.slice(0, 2).join(' ')}: ${err.message}\n${stderr.split('\n').slice(-5).join('\n')}`, { cause: err }));
    });
  });
}

function keysPerSecond(c: ListingCase | undefined): number {
  return c === undefined || c.seconds <= 0 ? Number.NaN : c.keys / c.seconds;
}

function rowOf(rows: readonly ListingRow[], name: TargetName): ListingRow | undefined {
  return rows.find((row) => row.target === name);
}

/** The cost of a listing: keys a second where it lists keys; for the delimiter listing (prefixes only), its seconds. */
function listingRate(c: ListingCase | undefined): number {
  if (c === undefined || c.error !== null) return Number.NaN;
  return c.keys > 0 ? keysPerSecond(c) : c.seconds > 0 ? (c.prefixes / c.seconds) : Number.NaN;
}

/** The console table: per listing and server, seconds and keys/s, and tessera's ratio to each peer. */
export function listingTableLines(rows: readonly ListingRow[], absent: Absent): string[] {
  const width = 24;
  const names = LISTING_TARGETS;
  const title = (name: TargetName): string => (absent[name] === undefined ? TARGET_TITLES[name] : `${TARGET_TITLES[name]}: ${absent[name]}`).slice(0, width).padStart(width);
  const lines = [
    `${'listing'.padEnd(34)}${names.map(title).join('')}${'tessera/rgw'.padStart(13)}${'tessera/s3rver'.padStart(16)}`,
    `${''.padEnd(34)}${names.map(() => 'rate      s'.padStart(width)).join('')}`,
  ];
  const fillLine = (name: TargetName): string => {
    const row = rowOf(rows, name);
    return row === undefined ? '-'.padStart(width) : `${figure(row.fill.opsPerSec)} PUT/s ${figure(row.fill.wallMs / 1000).padStart(7)}`.padStart(width);
  };
  const fillRatio = (peer: TargetName): string => figure((rowOf(rows, 'tessera')?.fill.opsPerSec ?? Number.NaN) / (rowOf(rows, peer)?.fill.opsPerSec ?? Number.NaN));
  lines.push(`${'fill (PUT 1 KiB keys)'.padEnd(34)}${names.map(fillLine).join('')}${fillRatio('rgw').padStart(13)}${fillRatio('s3rver').padStart(16)}`);
  for (const name of LISTING_CASES) {
    const cell = (target: TargetName): string => {
      const c = rowOf(rows, target)?.cases.find((x) => x.case === name);
      if (c === undefined) return '-'.padStart(width);
      if (c.error !== null) return `failed: ${c.error}`.slice(0, width - 1).padStart(width);
      const unit = c.keys > 0 ? 'keys/s' : 'pfx/s';
      return `${figure(listingRate(c))} ${unit} ${figure(c.seconds).padStart(7)}`.padStart(width);
    };
    const ratio = (peer: TargetName): string => {
      const of = (target: TargetName): number => listingRate(rowOf(rows, target)?.cases.find((x) => x.case === name));
      return figure(of('tessera') / of(peer));
    };
    lines.push(`${CASE_LABELS[name].padEnd(34)}${names.map(cell).join('')}${ratio('rgw').padStart(13)}${ratio('s3rver').padStart(16)}`);
  }
  return lines;
}

/** The README's listing table: keys/s (seconds) per server and listing, and tessera's ratio to RGW and s3rver. */
export function listingMarkdown(rows: readonly ListingRow[], absent: Absent, keys: number): string[] {
  const titles = { tessera: 'Tessera', rgw: 'Ceph RGW', s3rver: 's3rver' } as const;
  const header = [`${keys.toLocaleString('en-US')} keys of 1 KiB in ${LISTING_PREFIXES} prefixes`, ...LISTING_TARGETS.map((name) => titles[name]), 'Tessera / RGW', 'Tessera / s3rver'];
  const lines = [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`];
  const ratio = (tessera: number, peer: number): string => figure(tessera / peer);
  const fill = (name: TargetName): string => {
    const row = rowOf(rows, name);
    return row === undefined ? (absent[name] ?? '-') : `${readmeNumber(row.fill.opsPerSec)} PUT/s (${figure(row.fill.wallMs / 1000)} s)`;
  };
  const fillRate = (name: TargetName): number => rowOf(rows, name)?.fill.opsPerSec ?? Number.NaN;
  lines.push(`| fill, ${readmeNumber(keys)} PUTs | ${LISTING_TARGETS.map(fill).join(' | ')} | ${ratio(fillRate('tessera'), fillRate('rgw'))} | ${ratio(fillRate('tessera'), fillRate('s3rver'))} |`);
  for (const name of LISTING_CASES) {
    const of = (target: TargetName): ListingCase | undefined => rowOf(rows, target)?.cases.find((x) => x.case === name);
    const cell = (target: TargetName): string => {
      const c = of(target);
      if (c === undefined) return rowOf(rows, target) === undefined ? (absent[target] ?? '-') : 'failed';
      if (c.error !== null) return `fails: ${c.error}`;
      return c.keys > 0 ? `${readmeNumber(listingRate(c))} keys/s (${figure(c.seconds)} s)` : `${figure(c.seconds)} s`;
    };
    const label = CASE_LABELS[name].replace("Delimiter='/'", '`Delimiter=/`').replace('StartAfter', '`StartAfter`');
    lines.push(`| ${label} | ${LISTING_TARGETS.map(cell).join(' | ')} | ${ratio(listingRate(of('tessera')), listingRate(of('rgw')))} | ${ratio(listingRate(of('tessera')), listingRate(of('s3rver')))} |`);
  }
  return lines;
}

/** Bucket the listing table fills on every server. */
const LISTING_BUCKET = 'listing';
/** PUTs in flight while filling: the fill is set-up, not the measurement, so as many as the servers take well. */
const FILL_CLIENTS = 32;

/**
 * The listing table: on each server in LISTING_TARGETS that runs, fills `keys` keys of 1 KiB with `targets`' own
 * client, then times listing-bench.py's listings through boto3 and checks every listing's count. Prints the table;
 * returns its rows (none when skipped).
 */
export async function runListingTable(options: { targets: readonly Target[]; absent: Absent; keys: number; enabled: boolean; signal: AbortSignal }): Promise<ListingRow[]> {
  const { targets, absent, keys } = options;
  console.log(`\nListing: ${keys.toLocaleString('en-US')} keys of 1 KiB in ${LISTING_PREFIXES} prefixes on each server, PUT by this bench's client (${FILL_CLIENTS} at once),`);
  console.log(`then boto3's ListObjectsV2 paginator (${PAGE_KEYS} keys a page): every page of the bucket, Delimiter='/' at the root, one prefix,`);
  console.log('and one page after a StartAfter half way into the last prefix; every listing\'s count checked. rate = keys/s (prefixes/s for');
  console.log('the delimiter listing), s = seconds; ratios = tessera\'s rate over the peer\'s\n');
  if (!options.enabled) {
    console.log('  skipped (--no-listing)');
    return [];
  }
  const python = await findBoto3Python();
  if ('skipped' in python) {
    console.log(`  skipped: ${python.skipped}`);
    return [];
  }
  console.log(`  ${python.python}: boto3 ${python.version}\n`);
  const body = new Uint8Array(LISTING_OBJECT_BYTES).fill(0x78);
  // A paginated listing of a million keys on a slow peer may take many minutes; a hang still ends.
  const timeoutMs = 600_000 + keys * 5;
  const rows: ListingRow[] = [];
  for (const name of LISTING_TARGETS) {
    const target = targets.find((t) => t.name === name);
    if (target === undefined) continue;
    await target.client.createBucket(LISTING_BUCKET);
    const fill = await runCase({ ops: keys, concurrency: FILL_CLIENTS, sizeBytes: LISTING_OBJECT_BYTES, op: (i) => target.client.put(LISTING_BUCKET, listingKey(i), body) });
    if (options.signal.aborted) throw new Error('interrupted');
    const problems = fill.errors > 0 ? [`fill: ${fill.errors}/${fill.ops} PUTs failed; first: ${fill.firstError ?? '?'}`] : [];
    const notes: string[] = [];
    let cases: ListingCase[] = [];
    try {
      cases = await runListings(python.python, target, LISTING_BUCKET, keys, timeoutMs, options.signal);
      // A peer that answers a listing with an error is measured as it is (s3rver 3.7 fails every truncated
      // ListObjectsV2 page); tessera doing so fails the run.
      const peer = name !== 'tessera';
      if (peer) notes.push(...cases.flatMap((c) => (c.error === null ? [] : [`${c.case}: failed on ${c.error}`])));
      problems.push(...listingMismatches(cases, keys, peer));
    } catch (err) {
      if (options.signal.aborted) throw new Error('interrupted', { cause: err });
      problems.push(err instanceof Error ? err.message : String(err));
    }
    rows.push({ target: name, fill, cases, problems, notes });
  }
  for (const line of listingTableLines(rows, absent)) console.log(line);
  for (const row of rows) for (const note of row.notes) console.log(`  ${row.target} ${note}`);
  return rows;
}
