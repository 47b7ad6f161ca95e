import { S3Error } from './errors.js';
import { requestDocumentRoot } from './request-document.js';

/** The root element of PutBucketEncryption's document and GetBucketEncryption's answer. */
const ROOT = 'ServerSideEncryptionConfiguration';

/** The default encryption a PutBucketEncryption document asks for: the algorithm, a KMS key id as given, and BucketKeyEnabled. */
export interface BucketEncryptionDefault {
  algorithm: 'AES256' | 'aws:kms';
  kmsKeyId?: string | undefined;
  bucketKeyEnabled?: boolean | undefined;
}

/**
 * The default encryption a PutBucketEncryption document asks for: SSE-S3 (AES256) or SSE-KMS
 * (aws:kms, with or without KMSMasterKeyID); DSSE-KMS is refused with NotImplemented, anything else
 * is MalformedXML.
 */
export function parseBucketEncryptionXml(text: string): BucketEncryptionDefault {
  const root = requestDocumentRoot(text, ROOT);
  const rules = Array.isArray(root.Rule) ? (root.Rule as unknown[]) : root.Rule === undefined ? [] : [root.Rule];
  if (rules.length !== 1) throw new S3Error('MalformedXML', { message: 'The configuration must hold exactly one Rule.' });
  const rule = rules[0] as Record<string, unknown> | string;
  const apply = typeof rule === 'object' ? (rule.ApplyServerSideEncryptionByDefault as Record<string, unknown> | undefined) : undefined;
  const algorithm = typeof apply === 'object' ? apply.SSEAlgorithm : undefined;
  if (algorithm === 'aws:kms:dsse') {
    throw new S3Error('NotImplemented', { message: 'Dual-layer server-side encryption with KMS keys (aws:kms:dsse) is not available. Use aws:kms or AES256.' });
  }
  if (algorithm !== 'AES256' && algorithm !== 'aws:kms') throw new S3Error('MalformedXML', { message: 'SSEAlgorithm must be AES256 or aws:kms.' });
  const keyId = typeof apply === 'object' ? apply.KMSMasterKeyID : undefined;
  if (keyId !== undefined && (typeof keyId !== 'string' || keyId === '' || keyId.length > 2048)) throw new S3Error('MalformedXML', { message: 'KMSMasterKeyID is not a key id.' });
  if (keyId !== undefined && algorithm !== 'aws:kms') {
    throw new S3Error('InvalidArgument', { message: 'a KMSMasterKeyID is not applicable if the default sse algorithm is not aws:kms', fields: { ArgumentName: 'ApplyServerSideEncryptionByDefault' } });
  }
  const bucketKey = typeof rule === 'object' ? rule.BucketKeyEnabled : undefined;
  if (bucketKey !== undefined && bucketKey !== 'true' && bucketKey !== 'false') throw new S3Error('MalformedXML', { message: 'BucketKeyEnabled must be true or false.' });
  return { algorithm, ...(keyId === undefined ? {} : { kmsKeyId: keyId }), ...(bucketKey === undefined ? {} : { bucketKeyEnabled: bucketKey === 'true' }) };
}

/** GetBucketEncryption's answer: the algorithm, the KMS key's ARN when one is named, and BucketKeyEnabled. */
export function bucketEncryptionBody(algorithm: 'AES256' | 'aws:kms', kmsKeyArn: string | undefined, bucketKeyEnabled: boolean): Record<string, unknown> {
  const apply: Record<string, unknown> = { SSEAlgorithm: algorithm, ...(kmsKeyArn === undefined ? {} : { KMSMasterKeyID: kmsKeyArn }) };
  return { Rule: { ApplyServerSideEncryptionByDefault: apply, BucketKeyEnabled: bucketKeyEnabled ? 'true' : 'false' } };
}

/** The root element name of the bucket encryption document. */
export const BUCKET_ENCRYPTION_ROOT = ROOT;
