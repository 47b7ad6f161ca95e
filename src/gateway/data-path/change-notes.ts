import { randomBytes } from 'node:crypto';
import {
  matchingConfigurations,
  matchingReplicationRules,
  type BucketRecord,
  type ChangeDestination,
  type ChangeNote,
  type ObjectEventName,
  type ObjectRecord,
  type ReplicationConfiguration,
} from '../../rpc/index.js';
import { s3VersionId } from '../s3/index.js';

// The notes of the changes a bucket's notification configurations (docs/events.md) or replication
// rules (docs/replication.md) select: matched when a write knows its event and key, completed when its
// commit takes the version id and time, and carried to every node of the key's set in the request
// that makes the change.

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
  /** Some destination is a replication rule's: the version (or marker) the change commits is PENDING replication. */
  readonly replicates: boolean;
}

/** What a change's replication depends on besides its event and key. */
export interface ChangeSubject {
  /** The version's tags with the change (a new version's, a tag change's new set); a delete marker has none. */
  tags?: Readonly<Record<string, string>> | undefined;
  /** A tag change: the tags before it. The rules that selected the version with them send the change too. */
  previousTags?: Readonly<Record<string, string>> | undefined;
  /**
   * The change may replicate. False for a replica's own changes (loop prevention between two clusters)
   * and for a tag change of a version that was never replicated.
   */
  replicates?: boolean | undefined;
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
 * configurations or replication rules selects it; undefined when none does (and at once for a bucket
 * without either).
 */
export function pendingChange(
  bucket: Pick<BucketRecord, 'notification' | 'replication'>,
  eventName: ObjectEventName,
  key: string,
  origin: ChangeOrigin,
  subject: ChangeSubject = {},
): PendingChange | undefined {
  const { notification, replication } = bucket;
  if (notification === undefined && replication === undefined) return undefined;
  const notified = notification === undefined ? [] : matchingConfigurations(notification, eventName, key).map((rule) => ({ configurationId: rule.id, arn: rule.arn }));
  const replicated = replication === undefined || subject.replicates === false ? [] : replicationDestinations(replication, eventName, key, subject);
  if (notified.length === 0 && replicated.length === 0) return undefined;
  return { eventName, origin, destinations: [...notified, ...replicated], replicates: replicated.length > 0 };
}

/**
 * Where the rules of `configuration` send a change (docs/replication.md): a new version with the tags
 * it is written with; a delete marker where the deciding rule sends delete markers; a tag change where
 * a rule selects the version with its tags before or after it. Nothing else: S3 never replicates a
 * delete of a version by its id, nor lifecycle's changes.
 */
export function replicationDestinations(configuration: ReplicationConfiguration, eventName: ObjectEventName, key: string, subject: ChangeSubject): ChangeDestination[] {
  const toDestination = (match: { arn: string; rule: { id: string } }): ChangeDestination => ({ configurationId: match.rule.id, arn: match.arn });
  if (eventName.startsWith('s3:ObjectCreated:')) return matchingReplicationRules(configuration, { key, tags: subject.tags }).map(toDestination);
  if (eventName === 's3:ObjectRemoved:DeleteMarkerCreated') {
    return matchingReplicationRules(configuration, { key }).filter((match) => match.deleteMarkers).map(toDestination);
  }
  if (eventName === 's3:ObjectTagging:Put' || eventName === 's3:ObjectTagging:Delete') {
    const after = matchingReplicationRules(configuration, { key, tags: subject.tags });
    const before = matchingReplicationRules(configuration, { key, tags: subject.previousTags });
    const arns = new Set(after.map((match) => match.arn));
    return [...after, ...before.filter((match) => !arns.has(match.arn))].map(toDestination);
  }
  return [];
}

/**
 * `record` as a commit that carries `change` writes it: PENDING replication when the change has a
 * replication destination (the delivery's outcome settles it in place).
 */
export function withReplicationStatus(record: ObjectRecord, change: PendingChange | undefined): ObjectRecord {
  return change?.replicates === true ? { ...record, replicationStatus: 'PENDING' } : record;
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
