/**
 * Compares two strings in UTF-8 byte order (S3's listing order) without encoding them.
 *
 * UTF-16 code unit order differs from UTF-8 byte order only between surrogates (code points
 * >= U+10000) and units U+E000..U+FFFF: in UTF-8 the supplementary code points sort last.
 * Shifting the two ranges at the first differing unit restores byte order.
 */
export function compareUtf8(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i += 1) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return utf8Rank(x) - utf8Rank(y);
  }
  return a.length - b.length;
}

function utf8Rank(unit: number): number {
  if (unit >= 0xd800 && unit <= 0xdfff) return unit + 0x2000;
  if (unit >= 0xe000) return unit - 0x800;
  return unit;
}
