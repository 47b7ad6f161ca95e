import { randomBytes } from 'node:crypto';
import { matchingConfigurations, type BucketRecord, type ChangeDestination, type ChangeNote, type ObjectEventName, type ObjectRecord } from '../../rpc/index.js';
import { s3VersionId } from '../s3/index.js';

// The notes of the changes a bucket's notification configurations select (docs/events.md): matched
// when a write knows its event and key, completed when its commit takes the version id and time, and
// carried to every node of the key's set in the request that makes the change.

/** Who made a change, through which request, in whose bucket: what S3's event record names beside the object. */
export interface ChangeOrigin {
  /** Canonical id of the requester. */
  principalId: string;
  sourceIp: string;
  /** The request's x-amz-request-id. */
  requestId: string;
  /** The request's x-amz-id-2. */
  hostId: string;
  /** Canonical id of the bucket's owner. */
  bucketOwnerId: string;
}

/** A change a write is about to make, with the configurations it goes to: its note is made once the commit takes its id (noteOf). */
export interface PendingChange {
  readonly eventName: ObjectEventName;
  readonly origin: ChangeOrigin;
  readonly destinations: readonly ChangeDestination[];
}

/** What the committed change says of itself. */
export interface ChangeFacts {
  /** When the change committed. */
  timeMs: number;
  /** The version id (or tag revision) the change committed under: its place among the key's changes. */
  orderId: string;
  /** The version id a client sees (`x-amz-version-id`); absent when the bucket was never versioned. */
  versionId?: string | undefined;
  sizeBytes?: number | undefined;
  /** The ETag, quoted or not. */
  etag?: string | undefined;
}

/**
 * The change `eventName` of `key` in `bucket` when at least one of the bucket's notification
 * configurations selects it; undefined when none does (and at once for a bucket without any).
 */
export function pendingChange(bucket: Pick<BucketRecord, 'notification'>, eventName: ObjectEventName, key: string, origin: ChangeOrigin): PendingChange | undefined {
  const rules = bucket.notification;
  if (rules === undefined) return undefined;
  const matched = matchingConfigurations(rules, eventName, key);
  if (matched.length === 0) return undefined;
  return { eventName, origin, destinations: matched.map((rule) => ({ configurationId: rule.id, arn: rule.arn })) };
}

/** The note of `change` as it committed; a fresh id, the same one for every node that is sent it. */
export function noteOf(change: PendingChange, facts: ChangeFacts): ChangeNote {
  const { origin } = change;
  return {
    id: randomBytes(16).toString('hex'),
    eventName: change.eventName,
    timeMs: facts.timeMs,
    orderId: facts.orderId,
    ...(facts.versionId === undefined ? {} : { versionId: facts.versionId }),
    ...(facts.sizeBytes === undefined ? {} : { sizeBytes: facts.sizeBytes }),
    ...(facts.etag === undefined ? {} : { etag: unquoted(facts.etag) }),
    bucketOwnerId: origin.bucketOwnerId,
    principalId: origin.principalId,
    sourceIp: origin.sourceIp,
    requestId: origin.requestId,
    hostId: origin.hostId,
    destinations: [...change.destinations],
  };
}

/**
 * The note of a change that commits `record` (a new version, a delete marker), or undefined without a
 * change. A created object names its size and ETag, a removal neither, as S3's records do.
 */
export function versionNote(change: PendingChange | undefined, record: ObjectRecord): ChangeNote | undefined {
  if (change === undefined) return undefined;
  const created = change.eventName.startsWith('s3:ObjectCreated:');
  return noteOf(change, {
    timeMs: record.lastModifiedMs,
    orderId: record.versionId,
    versionId: shownVersionId(record),
    ...(created ? { sizeBytes: record.sizeBytes, etag: record.etag } : {}),
  });
}

/** The version id S3 shows for `record`: none when the bucket was never versioned, `null` for a null version. */
export function shownVersionId(record: Pick<ObjectRecord, 'versionId' | 'versioning'>): string | undefined {
  return record.versioning === undefined ? undefined : s3VersionId(record);
}

function unquoted(etag: string): string {
  return etag.length >= 2 && etag.startsWith('"') && etag.endsWith('"') ? etag.slice(1, -1) : etag;
}
