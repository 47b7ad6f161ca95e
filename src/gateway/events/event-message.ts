import { TesseraError } from '../../common/index.js';
import type { NotificationRule } from '../../rpc/index.js';
import { eventMatches, type NotificationEvent } from '../s3/index.js';

/** An event S3 emits (`s3:ObjectCreated:Put`, ...): a configurable name that is not a `:*` family. */
export type ObjectEventName = Exclude<NotificationEvent, `${string}:*`>;

/** One committed change of an object, as the change log will describe it: what S3's event record is built from. */
export interface ObjectChange {
  eventName: ObjectEventName;
  bucket: string;
  key: string;
  /** Canonical id of the bucket's owner. */
  bucketOwnerId: string;
  /** When the change committed. */
  timeMs: number;
  /**
   * The change's place in the order of its key's changes: the hybrid-clock version id it committed
   * under (hex), also for a delete of an unversioned key, whose tombstone has one.
   */
  orderId: string;
  /** The version id a client sees (`x-amz-version-id`); absent when the bucket was never versioned. */
  versionId?: string;
  sizeBytes?: number;
  /** The ETag, without quotes. */
  etag?: string;
  /** Canonical id of who made the change; lifecycle expiry names the service. */
  principalId: string;
  sourceIp: string;
  requestId: string;
  /** The request's x-amz-id-2. */
  hostId: string;
}

/** S3's event record (eventVersion 2.1), one per configuration an event matched. */
export interface EventRecord {
  eventVersion: '2.1';
  eventSource: 'aws:s3';
  awsRegion: string;
  eventTime: string;
  eventName: string;
  userIdentity: { principalId: string };
  requestParameters: { sourceIPAddress: string };
  responseElements: { 'x-amz-request-id': string; 'x-amz-id-2': string };
  s3: {
    s3SchemaVersion: '1.0';
    configurationId: string;
    bucket: { name: string; ownerIdentity: { principalId: string }; arn: string };
    object: { key: string; size?: number; eTag?: string; versionId?: string; sequencer: string };
  };
}

/** What goes to one target: the configuration's ARN and the message body, S3's `{"Records":[...]}`. */
export interface EventMessage {
  arn: string;
  configurationId: string;
  body: { Records: [EventRecord] };
}

const HEX = /^[0-9a-f]+$/i;
/** Characters S3 leaves as they are in an event's key; space becomes `+`, every other byte `%XX`. */
const KEPT = /[A-Za-z0-9._*/-]/;

/**
 * A key as S3 writes it in an event: form-encoded (space as `+`, so a literal `+` is `%2B`), with `/`
 * kept. Consumers decode it with a form decoder (Python's unquote_plus, Java's URLDecoder).
 */
export function eventKey(key: string): string {
  let out = '';
  for (const char of key) {
    if (char === ' ') out += '+';
    else if (KEPT.test(char)) out += char;
    else for (const byte of Buffer.from(char, 'utf8')) out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/**
 * The sequencer of a change: its order id as upper-case hex. Version ids are fixed-width hybrid-clock
 * timestamps, so of two events of one key the later change has the greater sequencer, compared as S3
 * documents (pad the shorter with leading zeros, then compare as strings).
 */
export function sequencerOf(orderId: string): string {
  if (!HEX.test(orderId)) throw new TesseraError('InvalidOrderId', 'an order id is hex');
  return orderId.toUpperCase();
}

/** The configurations of a bucket an event goes to: one of its events covers it, and the key passes its prefix and suffix. */
export function matchingConfigurations(rules: readonly NotificationRule[], eventName: ObjectEventName, key: string): NotificationRule[] {
  return rules.filter(
    (rule) => rule.events.some((pattern) => eventMatches(pattern, eventName)) && key.startsWith(rule.prefix ?? '') && key.endsWith(rule.suffix ?? ''),
  );
}

/** S3's event record of a change, for the configuration `configurationId`. */
export function eventRecord(change: ObjectChange, configurationId: string, region: string): EventRecord {
  // In S3's order: key, size, eTag, versionId, sequencer; a removal has no size or ETag.
  const object: EventRecord['s3']['object'] = {
    key: eventKey(change.key),
    ...(change.sizeBytes === undefined ? {} : { size: change.sizeBytes }),
    ...(change.etag === undefined ? {} : { eTag: change.etag }),
    ...(change.versionId === undefined ? {} : { versionId: change.versionId }),
    sequencer: sequencerOf(change.orderId),
  };
  return {
    eventVersion: '2.1',
    // What S3's own parsers (and the SDKs' event types) check for; the region and ARNs say where it came from.
    eventSource: 'aws:s3',
    awsRegion: region,
    eventTime: new Date(change.timeMs).toISOString(),
    eventName: change.eventName.slice('s3:'.length),
    userIdentity: { principalId: change.principalId },
    requestParameters: { sourceIPAddress: change.sourceIp },
    responseElements: { 'x-amz-request-id': change.requestId, 'x-amz-id-2': change.hostId },
    s3: {
      s3SchemaVersion: '1.0',
      configurationId,
      bucket: { name: change.bucket, ownerIdentity: { principalId: change.bucketOwnerId }, arn: `arn:aws:s3:::${change.bucket}` },
      object,
    },
  };
}

/** Every message a change makes: one per configuration of the bucket it matches, addressed to that configuration's target. */
export function eventMessages(change: ObjectChange, rules: readonly NotificationRule[], region: string): EventMessage[] {
  return matchingConfigurations(rules, change.eventName, change.key).map((rule) => ({
    arn: rule.arn,
    configurationId: rule.id,
    body: { Records: [eventRecord(change, rule.id, region)] },
  }));
}
