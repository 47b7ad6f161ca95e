import { XMLBuilder, XMLParser } from 'fast-xml-parser';

const builder = new XMLBuilder({ ignoreAttributes: false, attributeNamePrefix: '@_', suppressEmptyNode: false, processEntities: true });
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
