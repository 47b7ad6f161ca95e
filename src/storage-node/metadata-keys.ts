/**
 * Byte keys of the node's LevelDB (the layout is documented in metadata-store.ts). A row key is a
 * one-letter kind, then parts, each preceded by a 0x00 separator. Bucket names and object keys never
 * contain 0x00 (the node refuses them) nor 0xFF (not valid UTF-8), so 0x00 keeps a bucket's keys
 * contiguous and in UTF-8 byte order, and `prefix ‖ 0xFF` bounds "every key starting with prefix".
 */

const SEP = 0x00;
const SEP_CHAR = String.fromCharCode(SEP);
const HIGH = 0xff;

/** Row kinds, one byte each; their order on disk is irrelevant because every scan stays within one kind. */
export const ROW = {
  object: 'o',
  version: 'v',
  versionMark: 'w',
  hashIndex: 'h',
  prepared: 'p',
  inline: 'd',
  file: 'f',
  quarantine: 'q',
  versionGone: 'x',
  versionGoneByKey: 'y',
  bucket: 'b',
  user: 'u',
  node: 'n',
  index: 'i',
  changes: 'c',
  usage: 's',
} as const;

/** One of the row kinds. */
export type RowKind = (typeof ROW)[keyof typeof ROW];

/** The key of a row: kind, then each part after a 0x00. */
export function rowKey(kind: RowKind, ...parts: string[]): Buffer {
  // One UTF-8 encoding of the joined text: the kind is one ASCII letter and the separator U+0000 is the byte 0x00.
  let text: string = kind;
  for (const part of parts) text += SEP_CHAR + part;
  return Buffer.from(text, 'utf8');
}

/** The range of every row whose key starts with `prefix` (as iterator options). */
export function prefixRange(prefix: Buffer): { gte: Buffer; lt: Buffer } {
  return { gte: prefix, lt: Buffer.concat([prefix, Buffer.of(HIGH)]) };
}

/** The range of every row of one kind. */
export function kindRange(kind: RowKind): { gte: Buffer; lt: Buffer } {
  return prefixRange(Buffer.from(kind, 'latin1'));
}

/** `prefix ‖ 0xFF`: sorts after every key that starts with prefix. */
export function afterPrefix(prefix: Buffer): Buffer {
  return Buffer.concat([prefix, Buffer.of(HIGH)]);
}

/** The parts of a row key after its kind (the inverse of rowKey). */
export function keyParts(key: Buffer): string[] {
  const parts: string[] = [];
  let start = 2;
  for (let i = 2; i <= key.length; i += 1) {
    if (i === key.length || key[i] === SEP) {
      parts.push(key.toString('utf8', start, i));
      start = i + 1;
    }
  }
  return parts;
}

/** Each hex digit (either case) and its 15 - d, as newestFirst writes it. */
const TURNED_DIGIT: ReadonlyMap<string, string> = new Map(
  [...'0123456789abcdefABCDEF'].map((digit) => [digit, (15 - Number.parseInt(digit, 16)).toString(16)]),
);

/**
 * A version id turned so that text order is newest first (each hex digit d becomes 15 - d): a key's
 * version rows then list newest first, as S3 lists versions.
 */
export function newestFirst(versionId: string): string {
  let out = '';
  for (const digit of versionId) out += TURNED_DIGIT.get(digit) ?? (15 - Number.parseInt(digit, 16)).toString(16);
  return out;
}

