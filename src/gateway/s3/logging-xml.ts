import type { BucketLogging } from '../../rpc/index.js';
import { S3Error } from './errors.js';
import { element, literal, parseXml, renderXml } from './xml.js';

/** Largest PutBucketLogging body read: a document names one bucket and one prefix. */
export const MAX_LOGGING_BYTES = 16 * 1024;

/**
 * Longest TargetPrefix: a log object's key is the prefix plus at most about 200 bytes (the partitioned
 * format's account, region, bucket and dates), and S3 keys end at 1,024 bytes.
 */
export const MAX_LOG_PREFIX_BYTES = 512;

/**
 * Parses a PutBucketLogging body: a configuration, or undefined for an empty BucketLoggingStatus
 * (logging off). TargetBucket and TargetPrefix are required inside LoggingEnabled (an empty prefix is
 * allowed); TargetObjectKeyFormat holds SimplePrefix or PartitionedPrefix, not both. TargetGrants are
 * refused: a log object belongs to the target bucket's owner, as under S3's BucketOwnerEnforced.
 */
export function parseLoggingXml(text: string): BucketLogging | undefined {
  if (text.trim() === '') throw new S3Error('MalformedXML');
  let document: Record<string, unknown>;
  try {
    document = parseXml(text);
  } catch (err) {
    throw new S3Error('MalformedXML', { cause: err });
  }
  // An empty BucketLoggingStatus (what SDKs send to turn logging off) parses as ''.
  const root = element(document, 'BucketLoggingStatus');
  if (root === undefined) throw new S3Error('MalformedXML');
  const enabled = element(root, 'LoggingEnabled');
  if (enabled === undefined) return undefined;
  const targetBucket = literal(enabled, 'TargetBucket');
  const targetPrefix = literal(enabled, 'TargetPrefix') ?? (enabled['TargetPrefix'] === undefined ? undefined : '');
  if (targetBucket === undefined || targetBucket === '' || targetPrefix === undefined) throw new S3Error('MalformedXML');
  if (enabled['TargetGrants'] !== undefined) {
    throw new S3Error('InvalidTargetBucketForLogging', { message: 'Target grants are not supported: log objects belong to the target bucket\'s owner.', fields: { TargetBucket: targetBucket } });
  }
  if (Buffer.byteLength(targetPrefix) > MAX_LOG_PREFIX_BYTES || hasControl(targetPrefix)) {
    throw new S3Error('InvalidArgument', { message: `The target prefix must be at most ${MAX_LOG_PREFIX_BYTES} bytes of printable text.`, fields: { ArgumentName: 'TargetPrefix' } });
  }
  const logging: BucketLogging = { targetBucket, targetPrefix };
  const format = element(enabled, 'TargetObjectKeyFormat');
  if (format !== undefined) {
    const simple = element(format, 'SimplePrefix');
    const partitioned = element(format, 'PartitionedPrefix');
    if ((simple === undefined) === (partitioned === undefined)) throw new S3Error('MalformedXML');
    if (simple !== undefined) logging.simplePrefix = true;
    if (partitioned !== undefined) {
      const source = literal(partitioned, 'PartitionDateSource');
      if (source !== undefined && source !== 'EventTime' && source !== 'DeliveryTime') {
        throw new S3Error('InvalidArgument', { message: 'PartitionDateSource must be EventTime or DeliveryTime.', fields: { ArgumentName: 'PartitionDateSource', ArgumentValue: source } });
      }
      logging.partitioned = source === undefined ? {} : { dateSource: source };
    }
  }
  return logging;
}

/** GetBucketLogging's document: LoggingEnabled as configured, or an empty BucketLoggingStatus. */
export function renderLogging(logging: BucketLogging | undefined): string {
  if (logging === undefined) return renderXml('BucketLoggingStatus', {});
  const format =
    logging.partitioned !== undefined
      ? { TargetObjectKeyFormat: { PartitionedPrefix: logging.partitioned.dateSource === undefined ? '' : { PartitionDateSource: logging.partitioned.dateSource } } }
      : logging.simplePrefix === true
        ? { TargetObjectKeyFormat: { SimplePrefix: '' } }
        : {};
  return renderXml('BucketLoggingStatus', { LoggingEnabled: { TargetBucket: logging.targetBucket, TargetPrefix: logging.targetPrefix, ...format } });
}

function hasControl(text: string): boolean {
  for (let i = 0; i < text.length; i += 1) {
    const code = text.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) return true;
  }
  return false;
}
