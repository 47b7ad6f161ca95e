import { XMLBuilder, XMLParser } from 'fast-xml-parser';

/**
 * What a document carries as a reference rather than as itself: markup characters; CR, which every
 * parser's line-end handling would turn into LF; and the characters XML 1.0 forbids (controls, U+FFFE,
 * U+FFFF), which S3 writes as references such as `&#x1;` in a key it lists. Lenient parsers (the AWS
 * SDK for JavaScript's among them) read those back; strict ones fail as they do on S3's page, and
 * `encoding-type=url` is the way past them.
 */
const ESCAPED = /[&<>"'\r\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g;
const MARKUP: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };

function escapeText(_name: string, value: unknown): unknown {
  if (typeof value !== 'string') return value;
  return value.replace(ESCAPED, (char) => MARKUP[char] ?? `&#x${(char.codePointAt(0) ?? 0).toString(16).toUpperCase()};`);
}

const builder = new XMLBuilder({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  suppressEmptyNode: false,
  processEntities: false,
  tagValueProcessor: escapeText,
  attributeValueProcessor: escapeText,
});
// htmlEntities also decodes numeric character references (&#34;, &#x9;), which Go's encoder writes
// for quotes: rclone, mc and aws-sdk-go send ETags as &#34;...&#34; in CompleteMultipartUpload.
const parser = new XMLParser({ ignoreAttributes: true, parseTagValue: false, trimValues: false, processEntities: true, htmlEntities: true });

const S3_NAMESPACE = 'http://s3.amazonaws.com/doc/2006-03-01/';

/** Renders an S3 response document: XML declaration, the root element in S3's namespace, and the body. */
export function renderXml(root: string, body: Record<string, unknown>, options: { namespace?: boolean } = {}): string {
  const element = options.namespace === false ? body : { '@_xmlns': S3_NAMESPACE, ...body };
  return `<?xml version="1.0" encoding="UTF-8"?>\n${builder.build({ [root]: element }) as string}`;
}

/** Parses a request XML body into plain objects; element text stays text. Throws on malformed XML. */
export function parseXml(text: string): Record<string, unknown> {
  return parser.parse(text, true) as Record<string, unknown>;
}
