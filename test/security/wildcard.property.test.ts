import fc from 'fast-check';
import { t } from 'tap';
import { wildcardMatch, wildcardMatchSteps } from '../../src/gateway/access/wildcard.js';

/**
 * The policy wildcard matcher against the regular expression it replaces (built here from patterns
 * the test generates, on short strings, where backtracking costs nothing), and held to its time
 * bound by the steps it counts rather than by a clock.
 */

/** Letters in both cases, the two wildcards, a regex metacharacter, and code units whose case folding is odd: `ſ` upper-cases to ASCII `S`, `ß` to two letters. */
const ALPHABET = ['a', 'A', 'b', 'B', '*', '?', '.', 'ſ', 's', 'S', 'ß', 'é', 'É'];
const TEXT_ALPHABET = ALPHABET.filter((c) => c !== '*' && c !== '?').concat(['*', '?', '\n']);

const pattern = fc.array(fc.constantFrom(...ALPHABET), { maxLength: 12 }).map((chars) => chars.join(''));
const text = fc.array(fc.constantFrom(...TEXT_ALPHABET), { maxLength: 14 }).map((chars) => chars.join(''));

/** The matcher policies used before: every character literal but `*` (any run) and `?` (any one), `s` so `.` spans newlines. */
function reference(patternText: string, value: string, ignoreCase: boolean): boolean {
  const source = patternText.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${source}$`, ignoreCase ? 'si' : 's').test(value);
}

/** The bound the matcher promises: steps within a constant times (pattern + 1) × (text + 1). */
function withinBound(patternText: string, value: string, steps: number): boolean {
  return steps <= 4 * (patternText.length + 1) * (value.length + 1);
}

t.test('the matcher agrees with the regular expression it replaced, case-sensitive and not', async (t) => {
  fc.assert(
    fc.property(pattern, text, fc.boolean(), (p, v, ignoreCase) => wildcardMatch(p, v, { ignoreCase }) === reference(p, v, ignoreCase)),
    { numRuns: 3_000 },
  );
  // Texts built from the pattern itself, so that matches are common and not just mismatches.
  const filled = pattern.chain((p) =>
    fc.tuple(fc.constant(p), fc.array(text, { minLength: p.length, maxLength: p.length })).map(([q, fills]) => {
      const v = [...q].map((c, i) => (c === '*' ? (fills[i] ?? '') : c === '?' ? ((fills[i] ?? '') + 'x').slice(0, 1) : c)).join('');
      return [q, v] as const;
    }),
  );
  fc.assert(
    fc.property(filled, fc.boolean(), ([p, v], ignoreCase) => wildcardMatch(p, v, { ignoreCase }) === reference(p, v, ignoreCase)),
    { numRuns: 2_000 },
  );
  t.pass('agrees on every generated pattern and text');
});

t.test('the matcher never takes more than 4 × (pattern + 1) × (text + 1) steps', async (t) => {
  const longer = fc.array(fc.constantFrom('a', 'b', '*', '?'), { maxLength: 64 }).map((chars) => chars.join(''));
  const longText = fc.array(fc.constantFrom('a', 'b'), { maxLength: 200 }).map((chars) => chars.join(''));
  fc.assert(
    fc.property(longer, longText, (p, v) => withinBound(p, v, wildcardMatchSteps(p, v).steps)),
    { numRuns: 1_000 },
  );
  t.pass('within the bound on every generated pattern and text');
});

t.test('the patterns that make a backtracking engine explode cost steps in proportion to their length', async (t) => {
  const key = 'a'.repeat(1_024);
  const stars = (n: number, tail: string): string => `*${'a*'.repeat(n)}${tail}`;
  const cases: [string, string, boolean][] = [
    [stars(24, 'b'), key, false],
    [stars(24, 'b*'), key, false],
    [stars(500, 'b'), key, false],
    [stars(500, 'a'), key, true],
    [`${'a*'.repeat(500)}b`, key, false],
    [`*${'?*'.repeat(300)}b*`, key, false],
    [`arn:aws:s3:::bucket/${stars(24, 'b')}`, `arn:aws:s3:::bucket/${key}`, false],
  ];
  for (const [p, v, expected] of cases) {
    const { matched, steps } = wildcardMatchSteps(p, v);
    t.equal(matched, expected, `${p.slice(0, 32)}… (${p.length} characters) against ${v.length} characters`);
    // Linear: a few steps per character of pattern and text, not one per way of placing the stars.
    t.ok(steps <= 4 * (p.length + v.length + 1), `${steps} steps for ${p.length} + ${v.length} characters`);
  }
});

t.test('a run between stars that nearly fits everywhere costs at most its bound, not more', async (t) => {
  // The matcher's worst case: every placement of the run compares most of it before failing.
  const p = `*${'a'.repeat(511)}b*`;
  const v = 'a'.repeat(1_024);
  const { matched, steps } = wildcardMatchSteps(p, v);
  t.equal(matched, false);
  t.ok(withinBound(p, v, steps), `${steps} steps within 4 × ${p.length + 1} × ${v.length + 1}`);
});
