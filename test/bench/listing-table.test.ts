import { t } from 'tap';
import { deepStartAfter, expectedListing, LISTING_PREFIXES, listingKey, listingMismatches, type ListingCase } from '../../bench/lib/listing-table.js';
import { probeClient, requireClient, runCommand } from '../helpers/clients.js';
import { repoFile } from '../helpers/tree.js';

/** What S3 would answer for the fill of `keys` keys, worked out from the keys themselves in S3's (byte) order. */
function listedByS3(keys: number): ReturnType<typeof expectedListing> {
  const all = Array.from({ length: keys }, (_, i) => listingKey(i)).sort();
  const deep = deepStartAfter(keys);
  return {
    flat: { keys: all.length, prefixes: 0 },
    delimiter: { keys: 0, prefixes: new Set(all.map((key) => key.slice(0, key.indexOf('/') + 1))).size },
    prefix: { keys: all.filter((key) => key.startsWith('p03/')).length, prefixes: 0 },
    'start-after': { keys: Math.min(1000, all.filter((key) => key > deep).length), prefixes: 0 },
  };
}

t.test('the counts each listing must return are those of the filled keys in S3 order, for any key count', async (t) => {
  for (const keys of [1, 3, 4, 19, 20, 21, 39, 40, 999, 2000, 2013, 45_000]) t.same(expectedListing(keys), listedByS3(keys), `${keys} keys`);
});

t.test('the deep StartAfter lies in the last prefix, so its page is the rest of that prefix', async (t) => {
  t.equal(deepStartAfter(100_000), `p${LISTING_PREFIXES - 1}/obj-00050019`);
  t.equal(expectedListing(100_000)['start-after'].keys, 1000, 'a full page of the 2,499 keys after it');
  t.equal(expectedListing(2000)['start-after'].keys, 49, 'the 49 keys of p19 after its 51st');
});

t.test('a listing that returned another count than the keys filled is a problem, naming the listing', async (t) => {
  const expected = expectedListing(2000);
  const right: ListingCase[] = (['flat', 'delimiter', 'prefix', 'start-after'] as const).map((name) => ({ case: name, seconds: 0.1, pages: 1, error: null, ...expected[name] }));
  t.same(listingMismatches(right, 2000), []);
  const short = right.map((c) => (c.case === 'flat' ? { ...c, keys: 1999 } : c));
  t.same(listingMismatches(short, 2000), ['flat: 1999 keys and 0 prefixes, expected 2000 and 0']);
  t.same(listingMismatches(right.slice(0, 3), 2000), ['start-after: not run']);
  const failed = right.map((c) => (c.case === 'flat' ? { ...c, keys: 0, error: 'page 1: InternalError (HTTP 500)' } : c));
  t.same(listingMismatches(failed, 2000), ['flat: failed on page 1: InternalError (HTTP 500)'], "tessera's error answer is a problem");
  t.same(listingMismatches(failed, 2000, true), [], "a peer's is not (it is reported beside the table)");
});

t.test('listing-bench.py names and picks the keys the bench fills and checks', async (t) => {
  const probe = await probeClient('python3', ['-c', 'import boto3; print("boto3", boto3.__version__)']);
  if (!requireClient(t, 'python3 with boto3', probe)) return;
  const program = [
    'import importlib.util, json, sys, types',
    'spec = importlib.util.spec_from_file_location("listing_bench", sys.argv[1])',
    'module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)',
    'out = {}',
    'for keys in (7, 2000, 100000):',
    '    args = types.SimpleNamespace(keys=keys, prefixes=20)',
    '    out[keys] = {"deep": module.deep_key(args), "keys": [module.key(args, i) for i in (0, 3, 19, 20, keys - 1)]}',
    'print(json.dumps(out))',
  ].join('\n');
  const result = await runCommand('python3', ['-c', program, repoFile('bench/listing-bench.py')], { timeoutMs: 60_000 });
  t.equal(result.code, 0, result.stderr);
  const python = JSON.parse(result.stdout) as Record<string, { deep: string; keys: string[] }>;
  for (const keys of [7, 2000, 100_000]) {
    t.same(python[keys], { deep: deepStartAfter(keys), keys: [0, 3, 19, 20, keys - 1].map(listingKey) }, `${keys} keys`);
  }
});
