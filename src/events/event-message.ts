import { TesseraError } from '../common/index.js';
import type { ChangeDestination, ChangeNote } from '../rpc/index.js';

/** One committed change of an object: its bucket and key and what its commit noted of it. */
export type ObjectChange = Omit<ChangeNote, 'id' | 'destinations'> & { bucket: string; key: string };

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

/** Every message a change makes: one per destination it noted, addressed to that configuration's target. */
export function eventMessages(change: ObjectChange, destinations: readonly ChangeDestination[], region: string): EventMessage[] {
  return destinations.map((destination) => ({
    arn: destination.arn,
    configurationId: destination.configurationId,
    body: { Records: [eventRecord(change, destination.configurationId, region)] },
  }));
}
