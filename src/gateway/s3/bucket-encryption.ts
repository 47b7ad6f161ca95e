import { S3Error } from './errors.js';
import { requestDocumentRoot } from './request-document.js';

/** The root element of PutBucketEncryption's document and GetBucketEncryption's answer. */
const ROOT = 'ServerSideEncryptionConfiguration';

/**
 * The default encryption a PutBucketEncryption document asks for. Only SSE-S3 (AES256) is available:
 * `aws:kms` is refused with NotImplemented (no KMS is configured), anything else is MalformedXML.
 */
export function parseBucketEncryptionXml(text: string): 'AES256' {
  const root = requestDocumentRoot(text, ROOT);
  const rules = Array.isArray(root.Rule) ? (root.Rule as unknown[]) : root.Rule === undefined ? [] : [root.Rule];
  if (rules.length !== 1) throw new S3Error('MalformedXML', { message: 'The configuration must hold exactly one Rule.' });
  const rule = rules[0] as Record<string, unknown> | string;
  const apply = typeof rule === 'object' ? (rule.ApplyServerSideEncryptionByDefault as Record<string, unknown> | undefined) : undefined;
  const algorithm = typeof apply === 'object' ? apply.SSEAlgorithm : undefined;
  if (algorithm === 'aws:kms' || algorithm === 'aws:kms:dsse') {
    throw new S3Error('NotImplemented', { message: 'Server-side encryption with KMS keys is not available: no KMS is configured. Use AES256.' });
  }
  if (algorithm !== 'AES256') throw new S3Error('MalformedXML', { message: 'SSEAlgorithm must be AES256.' });
  return 'AES256';
}

/** GetBucketEncryption's answer for a bucket whose default is SSE-S3. */
export function bucketEncryptionBody(): Record<string, unknown> {
  return { Rule: { ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' }, BucketKeyEnabled: 'false' } };
}

/** The root element name of the bucket encryption document. */
export const BUCKET_ENCRYPTION_ROOT = ROOT;
