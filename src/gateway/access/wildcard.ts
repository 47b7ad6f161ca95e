// IAM's `*` and `?` wildcards without a regular expression. Policies come from clients, and a
// backtracking engine given `*a*a*a…b` tries every way to place the stars before it gives up: one
// request over a 1,024-byte key held the gateway's thread for minutes. This matcher splits the
// pattern at its stars; the runs between them have fixed lengths, so placing each run at its first
// fit, left to right, is as good as any placement, and nothing is ever undone. The text is read
// once, left to right, by the searches for the runs in turn.

const STAR = 0x2a;
const QUESTION = 0x3f;

/** How a pattern is matched: `ignoreCase` as IAM matches action names. */
export interface WildcardOptions {
  ignoreCase?: boolean;
}

/**
 * A code unit as a case-insensitive regular expression (without the `u` flag) compares it: its
 * upper case when that is a single code unit, except that nothing outside ASCII becomes ASCII (so
 * `ſ` stays apart from `s`). Kept exact so matching means what it meant with the `i` flag.
 */
function folded(code: number): number {
  if (code < 0x80) return code >= 0x61 && code <= 0x7a ? code - 0x20 : code;
  const upper = String.fromCharCode(code).toUpperCase();
  if (upper.length !== 1) return code;
  const result = upper.charCodeAt(0);
  return result < 0x80 ? code : result;
}

/** Counts the work of one match: the test of the time bound reads it. */
interface Meter {
  steps: number;
}

/**
 * Whether the run `pattern[from, to)` (no `*` in it; `?` matches any one code unit) matches `text`
 * at `at`. The caller has checked that the text is long enough.
 */
function runMatches(pattern: string, from: number, to: number, text: string, at: number, ignoreCase: boolean, meter: Meter): boolean {
  for (let i = from, j = at; i < to; i += 1, j += 1) {
    meter.steps += 1;
    const p = pattern.charCodeAt(i);
    if (p === QUESTION) continue;
    const c = text.charCodeAt(j);
    if (p !== c && (!ignoreCase || folded(p) !== folded(c))) return false;
  }
  return true;
}

/** Runs up to this long are searched by comparing at each position; longer ones bit-parallel. */
const SHORT_RUN = 16;

/** The first position in `[at, lastStart]` where the run `pattern[from, to)` matches, or -1, comparing at each position. */
function findShortRun(pattern: string, from: number, to: number, text: string, at: number, lastStart: number, ignoreCase: boolean, meter: Meter): number {
  for (let start = at; start <= lastStart; start += 1) {
    meter.steps += 1;
    if (runMatches(pattern, from, to, text, start, ignoreCase, meter)) return start;
  }
  return -1;
}

/**
 * findShortRun for a long run, as the shift-and algorithm finds it: one bit per position of the run
 * says whether the run's prefix up to there ends at the current text position, and each text
 * character updates all bits at once, 32 to a word. Each character of the text costs one pass over
 * ⌈run / 32⌉ words, however nearly the run fits there, where comparing at each position costs the
 * run's length: a policy run of 1,000 characters that nearly fits everywhere in a 16 KB header.
 */
function findLongRun(pattern: string, from: number, to: number, text: string, at: number, lastStart: number, ignoreCase: boolean, meter: Meter): number {
  const length = to - from;
  const words = (length + 31) >>> 5;
  // Positions `?` holds match any character; the others, the one character they hold.
  const anyChar = new Uint32Array(words);
  const byChar = new Map<number, Uint32Array>();
  for (let i = 0; i < length; i += 1) {
    const p = pattern.charCodeAt(from + i);
    const bit = 1 << (i & 31);
    if (p === QUESTION) {
      anyChar[i >>> 5] = ((anyChar[i >>> 5] as number) | bit) >>> 0;
      continue;
    }
    const key = ignoreCase ? folded(p) : p;
    let mask = byChar.get(key);
    if (mask === undefined) {
      mask = new Uint32Array(words);
      byChar.set(key, mask);
    }
    mask[i >>> 5] = ((mask[i >>> 5] as number) | bit) >>> 0;
  }
  meter.steps += length + 1;
  const state = new Uint32Array(words);
  const lastWord = words - 1;
  const lastBit = 1 << ((length - 1) & 31);
  const stop = lastStart + length;
  for (let j = at; j < stop; j += 1) {
    const c = text.charCodeAt(j);
    const mask = byChar.get(ignoreCase ? folded(c) : c);
    let carry = 1;
    for (let w = 0; w < words; w += 1) {
      const previous = state[w] as number;
      const allowed = ((mask === undefined ? 0 : (mask[w] as number)) | (anyChar[w] as number)) >>> 0;
      state[w] = (((previous << 1) | carry) & allowed) >>> 0;
      carry = previous >>> 31;
    }
    meter.steps += words;
    if (((state[lastWord] as number) & lastBit) !== 0) return j - length + 1;
  }
  return -1;
}

function match(pattern: string, text: string, ignoreCase: boolean, meter: Meter): boolean {
  const firstStar = pattern.indexOf('*');
  if (firstStar < 0) return pattern.length === text.length && runMatches(pattern, 0, pattern.length, text, 0, ignoreCase, meter);
  const lastStar = pattern.lastIndexOf('*');
  const tailLength = pattern.length - lastStar - 1;
  // The characters outside the stars each take one of the text's: a text shorter than they are fails at once.
  let fixed = 0;
  for (let i = 0; i < pattern.length; i += 1) if (pattern.charCodeAt(i) !== STAR) fixed += 1;
  meter.steps += pattern.length + 1;
  if (fixed > text.length) return false;
  // The ends are anchored: check them first, so a pattern that cannot end as the text does costs nothing more.
  if (!runMatches(pattern, 0, firstStar, text, 0, ignoreCase, meter)) return false;
  if (!runMatches(pattern, lastStar + 1, pattern.length, text, text.length - tailLength, ignoreCase, meter)) return false;
  let at = firstStar;
  const end = text.length - tailLength;
  // Characters the middle runs not yet placed still need, so a run is never tried where the rest cannot fit.
  let needed = fixed - firstStar - tailLength;
  let from = firstStar + 1;
  while (from <= lastStar) {
    let to = from;
    while (pattern.charCodeAt(to) !== STAR) to += 1;
    const length = to - from;
    meter.steps += length + 1;
    needed -= length;
    const lastStart = end - needed - length;
    const start =
      length <= SHORT_RUN ? findShortRun(pattern, from, to, text, at, lastStart, ignoreCase, meter) : findLongRun(pattern, from, to, text, at, lastStart, ignoreCase, meter);
    if (start < 0) return false;
    at = start + length;
    from = to + 1;
  }
  return true;
}

/**
 * Whether `text` matches an IAM pattern: `*` any run of characters (none included), `?` any one
 * (a UTF-16 code unit, as before), everything else itself; case-insensitive with `ignoreCase`.
 * Time is at most proportional to (pattern length + 1) × (text length + 1), and to about the text's
 * length × ⌈longest run between stars / 32⌉ plus the pattern's length: near the sum of the two for
 * the patterns that make backtracking explode. No pattern becomes a regular expression.
 */
export function wildcardMatch(pattern: string, text: string, options: WildcardOptions = {}): boolean {
  return match(pattern, text, options.ignoreCase === true, { steps: 0 });
}

/** wildcardMatch that also reports how many steps it took, so tests can hold it to its time bound without a clock. */
export function wildcardMatchSteps(pattern: string, text: string, options: WildcardOptions = {}): { matched: boolean; steps: number } {
  const meter = { steps: 0 };
  const matched = match(pattern, text, options.ignoreCase === true, meter);
  return { matched, steps: meter.steps };
}
