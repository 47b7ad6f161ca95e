// IAM's `*` and `?` wildcards without a regular expression. Policies come from clients, and a
// backtracking engine given `*a*a*a…b` tries every way to place the stars before it gives up: one
// request over a 1,024-byte key held the gateway's thread for minutes. This matcher splits the
// pattern at its stars; the runs between them have fixed lengths, so placing each run at its first
// fit, left to right, is as good as any placement, and nothing is ever undone.

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
    let placed = false;
    for (; at + length + needed <= end; at += 1) {
      meter.steps += 1;
      if (runMatches(pattern, from, to, text, at, ignoreCase, meter)) {
        placed = true;
        break;
      }
    }
    if (!placed) return false;
    at += length;
    from = to + 1;
  }
  return true;
}

/**
 * Whether `text` matches an IAM pattern: `*` any run of characters (none included), `?` any one
 * (a UTF-16 code unit, as before), everything else itself; case-insensitive with `ignoreCase`.
 * Time is at most proportional to (pattern length + 1) × (text length + 1), near the sum of
 * the two for the patterns that make backtracking explode, and no pattern becomes a regular expression.
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
