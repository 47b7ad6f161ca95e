import { XMLBuilder, XMLParser } from 'fast-xml-parser';
import { S3Error } from './errors.js';

/**
 * What a document carries as a reference rather than as itself: markup characters; CR, which every
 * parser's line-end handling would turn into LF; and the characters XML 1.0 forbids (controls, U+FFFE,
 * U+FFFF), which S3 writes as references such as `&#x1;` in a key it lists. Lenient parsers (the AWS
 * SDK for JavaScript's among them) read those back; strict ones fail as they do on S3's page, and
 * `encoding-type=url` is the way past them.
 */
const ESCAPED = /[&<>"'\r\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g;
/** The same set without the global flag, to tell whether a text needs any reference: most keys and values need none. */
const NEEDS_ESCAPE = new RegExp(ESCAPED.source);
const MARKUP: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };

/** Text as an S3 document carries it (see ESCAPED). */
export function escapeXmlText(value: string): string {
  if (!NEEDS_ESCAPE.test(value)) return value;
  return value.replace(ESCAPED, (char) => MARKUP[char] ?? `&#x${(char.codePointAt(0) ?? 0).toString(16).toUpperCase()};`);
}

function escapeText(_name: string, value: unknown): unknown {
  return typeof value === 'string' ? escapeXmlText(value) : value;
}

const builder = new XMLBuilder({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  suppressEmptyNode: false,
  processEntities: false,
  tagValueProcessor: escapeText,
  attributeValueProcessor: escapeText,
});
/** The entities XML itself defines; S3 documents declare no others. */
const PREDEFINED: Readonly<Record<string, string>> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
// A reference, or an `&` that starts none (`&#;`, `&#x;`), which the parser's check lets through.
const REFERENCE = /&(?:#x([0-9A-Fa-f]+);|#([0-9]+);|([^&;#\s]+);)?/g;

/**
 * Decodes the references in request text. Character references are decoded for every character a key
 * can hold, controls included: S3 lists `a\x01b` as `a&#x1;b`, and a client sending that back names that
 * key; Go's encoder writes quotes as `&#34;` (rclone, mc and aws-sdk-go send ETags so). A reference
 * to NUL, a surrogate or past U+10FFFF, or to an entity XML does not define, throws: the document is
 * malformed, and dropping or keeping the reference as text would name another key.
 */
function decodeReferences(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(REFERENCE, (reference, hex: string | undefined, decimal: string | undefined, name: string | undefined) => {
    if (name !== undefined) {
      const char = PREDEFINED[name];
      if (char === undefined) throw new S3Error('MalformedXML', { message: `Undefined entity ${reference}` });
      return char;
    }
    if (hex === undefined && decimal === undefined) throw new S3Error('MalformedXML', { message: 'An & starts no reference' });
    const codePoint = hex === undefined ? Number.parseInt(decimal ?? '', 10) : Number.parseInt(hex, 16);
    if (!(codePoint >= 1 && codePoint <= 0x10ffff) || (codePoint >= 0xd800 && codePoint <= 0xdfff)) {
      throw new S3Error('MalformedXML', { message: `Character reference ${reference} names no character a key can hold` });
    }
    return String.fromCodePoint(codePoint);
  });
}

const parser = new XMLParser({
  ignoreAttributes: true,
  parseTagValue: false,
  trimValues: false,
  processEntities: true,
  // The parser's own decoder drops references to controls (&#x1;) and keeps unknown ones as text.
  // Entities a DOCTYPE declares are not taken up, so a reference to one fails as undefined.
  entityDecoder: { decode: decodeReferences, reset: () => {}, setXmlVersion: () => {}, addInputEntities: () => {}, setExternalEntities: () => {} },
});

/** The namespace of S3's response documents. */
export const S3_NAMESPACE = 'http://s3.amazonaws.com/doc/2006-03-01/';

/** Renders an S3 response document: XML declaration, the root element in S3's namespace, and the body. */
export function renderXml(root: string, body: Record<string, unknown>, options: { namespace?: boolean } = {}): string {
  const element = options.namespace === false ? body : { '@_xmlns': S3_NAMESPACE, ...body };
  return `<?xml version="1.0" encoding="UTF-8"?>\n${builder.build({ [root]: element }) as string}`;
}

/** Parses a request XML body into plain objects; element text stays text. Throws on malformed XML. */
export function parseXml(text: string): Record<string, unknown> {
  return parser.parse(text, true) as Record<string, unknown>;
}

/** A parsed element that may repeat, as a list: none, one or several. */
export function list(value: unknown): unknown[] {
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
}

/** An element that may appear at most once, as its exact text; MalformedXML when repeated or not text. */
export function literal(fields: Record<string, unknown>, name: string): string | undefined {
  const value = fields[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new S3Error('MalformedXML');
  return value;
}

/** An element holding other elements (an empty one parses as ''). */
export function element(fields: Record<string, unknown>, name: string): Record<string, unknown> | undefined {
  const value = fields[name];
  if (value === undefined) return undefined;
  if (value === '') return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new S3Error('MalformedXML');
  return value as Record<string, unknown>;
}
