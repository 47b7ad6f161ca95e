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

/** The textbook dynamic program over (pattern prefix, text prefix): slow but plainly right, and safe on any length. */
function dynamic(patternText: string, value: string): boolean {
  let row = Array.from({ length: value.length + 1 }, (_, j) => j === 0);
  for (const p of patternText) {
    const next = Array.from({ length: value.length + 1 }, () => false);
    next[0] = p === '*' && row[0] === true;
    for (let j = 1; j <= value.length; j += 1) {
      next[j] = p === '*' ? row[j] === true || next[j - 1] === true : row[j - 1] === true && (p === '?' || p === value[j - 1]);
    }
    row = next;
  }
  return row[value.length] === true;
}

t.test('runs between stars longer than 32 characters, searched bit-parallel, match as the dynamic program says', async (t) => {
  const run = fc.array(fc.constantFrom('a', 'a', 'a', 'b', '?'), { minLength: 0, maxLength: 70 }).map((chars) => chars.join(''));
  const longPattern = fc.tuple(fc.array(run, { minLength: 1, maxLength: 4 }), fc.boolean(), fc.boolean()).map(([runs, lead, trail]) => `${lead ? '*' : ''}${runs.join('*')}${trail ? '*' : ''}`);
  const longText = fc.array(fc.constantFrom('a', 'a', 'a', 'b'), { maxLength: 220 }).map((chars) => chars.join(''));
  // Texts that hold the pattern's runs, so that long runs are found and not only missed.
  const holding = longPattern.chain((p) => fc.tuple(fc.constant(p), fc.array(longText, { minLength: 1, maxLength: 5 })).map(([q, fills]) => [q, q.replace(/\?/g, 'b').split('*').join(fills[0] ?? '')] as const));
  fc.assert(
    fc.property(longPattern, longText, (p, v) => wildcardMatch(p, v) === dynamic(p, v) && withinBound(p, v, wildcardMatchSteps(p, v).steps)),
    { numRuns: 1_500 },
  );
  fc.assert(
    fc.property(holding, ([p, v]) => wildcardMatch(p, v) === dynamic(p, v) && wildcardMatch(p.toUpperCase(), v, { ignoreCase: true }) === dynamic(p, v)),
    { numRuns: 1_500 },
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

t.test('a long run between stars that nearly fits everywhere costs a pass over the text per 32 characters of it', async (t) => {
  // Comparing at each position, every placement would compare most of the run before failing.
  for (const [p, v] of [
    [`*${'a'.repeat(511)}b*`, 'a'.repeat(1_024)],
    [`*${'a'.repeat(1_277)}b*`, 'a'.repeat(16_000)],
    [`*${'a?'.repeat(600)}b*`, 'a'.repeat(16_000)],
  ] as const) {
    const { matched, steps } = wildcardMatchSteps(p, v);
    t.equal(matched, false);
    const words = Math.ceil(p.length / 32);
    t.ok(steps <= 2 * (v.length + 1) * words + 2 * (p.length + 1), `${steps} steps for ${p.length} against ${v.length} characters (${words} words)`);
  }
});
