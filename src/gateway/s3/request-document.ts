import { S3Error } from './errors.js';
import { parseXml } from './xml.js';

/**
 * The root element of an XML request body (DeleteObjects, CompleteMultipartUpload, tagging, CORS,
 * ACL documents): MalformedXML when the text does not parse or its root is not `rootName`.
 */
export function requestDocumentRoot(text: string, rootName: string): Record<string, unknown> {
  let document: Record<string, unknown>;
  try {
    document = parseXml(text);
  } catch (err) {
    throw new S3Error('MalformedXML', { cause: err });
  }
  const root = document[rootName];
  if (typeof root !== 'object' || root === null) throw new S3Error('MalformedXML');
  return root as Record<string, unknown>;
}
