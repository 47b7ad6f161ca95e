import type { BucketLogging } from '../../rpc/index.js';

/** Where one source bucket's records go: its target and the part of the log objects' keys fixed for it. */
export interface LogDestination {
  targetBucket: string;
  /** The key up to the date part: TargetPrefix, and for the partitioned format `owner/region/bucket/`. */
  keyPrefix: string;
  partitioned: boolean;
  /** Partitioned: which time names the date folders (EventTime: the first record's; DeliveryTime: the write's). */
  dateSource: 'EventTime' | 'DeliveryTime';
}

/** The destination of a source bucket's records under its logging configuration. */
export function logDestination(logging: BucketLogging, source: { ownerId: string; region: string; bucket: string }): LogDestination {
  if (logging.partitioned === undefined) {
    return { targetBucket: logging.targetBucket, keyPrefix: logging.targetPrefix, partitioned: false, dateSource: 'DeliveryTime' };
  }
  return {
    targetBucket: logging.targetBucket,
    keyPrefix: `${logging.targetPrefix}${source.ownerId}/${source.region}/${source.bucket}/`,
    partitioned: true,
    dateSource: logging.partitioned.dateSource ?? 'EventTime',
  };
}

/**
 * A log object's key, as S3 names them: `TargetPrefix YYYY-mm-DD-HH-MM-SS-UniqueString`, or in the
 * partitioned format `TargetPrefix owner/region/bucket/YYYY/MM/DD/YYYY-mm-DD-HH-MM-SS-UniqueString`.
 * `unique`: 16 upper-case hex characters, so two objects written in one second never collide.
 */
export function logObjectKey(destination: LogDestination, eventMs: number, deliveryMs: number, unique: string): string {
  const stamp = new Date(deliveryMs).toISOString();
  const [date = '', time = ''] = stamp.split('T');
  const name = `${date}-${time.slice(0, 8).replaceAll(':', '-')}-${unique}`;
  if (!destination.partitioned) return `${destination.keyPrefix}${name}`;
  const folderDate = new Date(destination.dateSource === 'EventTime' ? eventMs : deliveryMs).toISOString().slice(0, 10).replaceAll('-', '/');
  return `${destination.keyPrefix}${folderDate}/${name}`;
}
