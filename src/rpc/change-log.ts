import Type, { type Static } from 'typebox';
import type { NotificationRule } from './bucket-record.js';
import { Count, VersionId, WireName } from './wire-fields.js';

/**
 * The change log's vocabulary (docs/events.md): which changes of an object S3 names, how a bucket's
 * notification configuration selects them, and the note of one change that a commit carries to the
 * nodes of its key, which keep it in the same batch as the change until it is delivered.
 */

/**
 * The events a notification configuration may name, as S3 lists them (ObjectRestore has no meaning
 * without archive storage classes). A `:*` name covers every name of its family.
 */
export const NOTIFICATION_EVENTS = [
  's3:ObjectCreated:*',
  's3:ObjectCreated:Put',
  's3:ObjectCreated:Post',
  's3:ObjectCreated:Copy',
  's3:ObjectCreated:CompleteMultipartUpload',
  's3:ObjectRemoved:*',
  's3:ObjectRemoved:Delete',
  's3:ObjectRemoved:DeleteMarkerCreated',
  's3:LifecycleExpiration:*',
  's3:LifecycleExpiration:Delete',
  's3:LifecycleExpiration:DeleteMarkerCreated',
  's3:ObjectTagging:*',
  's3:ObjectTagging:Put',
  's3:ObjectTagging:Delete',
] as const;
/** An event a configuration may name. */
export type NotificationEvent = (typeof NOTIFICATION_EVENTS)[number];

/** An event a change is: a configurable name that is not a `:*` family. */
export type ObjectEventName = Exclude<NotificationEvent, `${string}:*`>;
/** Every event a change can be. */
export const OBJECT_EVENT_NAMES = NOTIFICATION_EVENTS.filter((name): name is ObjectEventName => !name.endsWith(':*'));

/** Whether `pattern` (a configured name, perhaps `family:*`) covers the event `name`. */
export function eventMatches(pattern: string, name: string): boolean {
  if (pattern === name) return true;
  return pattern.endsWith(':*') && name.startsWith(pattern.slice(0, -1));
}

/** The configurations of a bucket an event goes to: one of its events covers it, and the key passes its prefix and suffix. */
export function matchingConfigurations(rules: readonly NotificationRule[], eventName: ObjectEventName, key: string): NotificationRule[] {
  return rules.filter(
    (rule) => rule.events.some((pattern) => eventMatches(pattern, eventName)) && key.startsWith(rule.prefix ?? '') && key.endsWith(rule.suffix ?? ''),
  );
}

/** Where a change goes: a configuration's id and its target's ARN, as the configuration named it when the change committed. */
export const ChangeDestination = Type.Object({
  configurationId: Type.String({ minLength: 1, maxLength: 255 }),
  arn: Type.String({ minLength: 1, maxLength: 2048 }),
});
/** Where a change goes. */
export type ChangeDestination = Static<typeof ChangeDestination>;

/** Most replication destinations one bucket's replication configuration names. */
export const MAX_REPLICATION_DESTINATIONS = 100;

/**
 * Most destinations one change has: a bucket holds at most 100 notification configurations, each
 * selecting a change once, and its replication configuration names at most MAX_REPLICATION_DESTINATIONS.
 */
export const MAX_CHANGE_DESTINATIONS = 100 + MAX_REPLICATION_DESTINATIONS;

/** An id a text field of a change may hold: printable ASCII, bounded. */
const Printable = (maxLength: number) => Type.String({ maxLength, pattern: '^[\\x20-\\x7e]*$' });

/**
 * One committed change of an object as its commit carries it (CommitRequest, VersionDeleteRequest,
 * TagUpdateRequest): the nodes that apply the change write it to their change log in the same batch,
 * so a change is logged exactly where it committed. The bucket and key are the request's own.
 * Everything S3's event record needs is here; the matching was done when the change was made, against
 * the configuration in force then.
 */
export const ChangeNote = Type.Object({
  /** The same on every node of the key's set: how a delivered change is named to the other members. */
  id: Type.String({ pattern: '^[0-9a-f]{32}$' }),
  eventName: Type.Unsafe<ObjectEventName>(Type.Union(OBJECT_EVENT_NAMES.map((name) => Type.Literal(name)))),
  /** When the change committed. */
  timeMs: Count,
  /** The change's place among its key's changes: the version id (or tag revision) it committed under. */
  orderId: VersionId,
  /** The version id a client sees (`x-amz-version-id`); absent when the bucket was never versioned. */
  versionId: Type.Optional(Type.String({ minLength: 1, maxLength: 64, pattern: '^[0-9A-Za-z._-]+$' })),
  sizeBytes: Type.Optional(Count),
  /** The ETag, without quotes. */
  etag: Type.Optional(Printable(128)),
  /** Canonical id of the bucket's owner. */
  bucketOwnerId: Printable(256),
  /** Canonical id of who made the change; lifecycle expiry names the service. */
  principalId: Printable(256),
  sourceIp: Printable(64),
  requestId: Printable(64),
  /** The request's x-amz-id-2. */
  hostId: Printable(256),
  destinations: Type.Array(ChangeDestination, { minItems: 1, maxItems: MAX_CHANGE_DESTINATIONS }),
});
/** One committed change of an object, as its commit carries it. */
export type ChangeNote = Static<typeof ChangeNote>;

/** A change sequence number on one node: 16 hex digits, increasing. */
export const ChangeSeq = Type.String({ pattern: '^[0-9a-f]{16}$' });

/** One change as a node logged it: its place in the node's log, the key it changed, its note, and the destinations the node delivered it to so far (by delivery key: `#N`, its place among the note's destinations). */
export const LoggedChange = Type.Object({
  seq: ChangeSeq,
  bucket: WireName,
  key: WireName,
  note: ChangeNote,
  loggedMs: Count,
  delivered: Type.Array(Type.String({ maxLength: 255 }), { maxItems: MAX_CHANGE_DESTINATIONS }),
});
/** One change as a node logged it. */
export type LoggedChange = Static<typeof LoggedChange>;

/** Answer of GET /v1/changes: a page of the node's change log, in log order. */
export const ChangeLogPage = Type.Object({ changes: Type.Array(LoggedChange) });
/** Answer of GET /v1/changes. */
export type ChangeLogPage = Static<typeof ChangeLogPage>;
