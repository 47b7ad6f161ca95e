import Type, { type Static } from 'typebox';

/**
 * A bucket's replication configuration as its record stores it (PutBucketReplication), and what it
 * means for one change: which rule sends it to which destination, and whether a delete marker goes
 * too. Gateways write it; the nodes that deliver the change log read it. Both must agree, so the
 * meaning lives here beside the stored form (as lifecycle-rules.ts does for lifecycle).
 */

const Status = Type.Union([Type.Literal('Enabled'), Type.Literal('Disabled')]);

/** Most rules one configuration holds, as S3's limit. */
export const MAX_REPLICATION_RULES = 1000;

/** What a rule selects: keys under `prefix` (none: every key) carrying every tag of `tags`. */
export const ReplicationFilter = Type.Object({
  prefix: Type.Optional(Type.String()),
  tags: Type.Optional(Type.Record(Type.String(), Type.String())),
});
/** What a replication rule selects. */
export type ReplicationFilter = Static<typeof ReplicationFilter>;

/** One rule of a bucket's replication configuration (S3's Rule). */
export const ReplicationRule = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 255 }),
  enabled: Type.Boolean(),
  /**
   * How the rule was written: the legacy top-level `<Prefix>` (S3's first schema: no priority, delete
   * markers always replicated) or a `<Filter>` (the current one). Rendered back the same way.
   */
  form: Type.Union([Type.Literal('Prefix'), Type.Literal('Filter')]),
  /** Present on `Filter` rules: of two rules selecting a key for one destination, the greater wins. */
  priority: Type.Optional(Type.Integer({ minimum: 0, maximum: 2_147_483_647 })),
  filter: ReplicationFilter,
  /** DeleteMarkerReplication's Status, on `Filter` rules. */
  deleteMarkerReplication: Type.Optional(Status),
  /** ExistingObjectReplication's Status, when given: whether a resync sends what was there before the rule. */
  existingObjectReplication: Type.Optional(Status),
  destination: Type.Object({
    /** Destination.Bucket as the rule named it: a replication target's ARN (`arn:tessera:replication::NAME:BUCKET`). */
    arn: Type.String({ minLength: 1, maxLength: 2048 }),
    storageClass: Type.Optional(Type.String({ maxLength: 64 })),
  }),
});
/** One replication rule. */
export type ReplicationRule = Static<typeof ReplicationRule>;

/** A bucket's replication configuration: the Role it was given (kept, never used: there are no IAM roles) and its rules. */
export const ReplicationConfiguration = Type.Object({
  role: Type.String({ maxLength: 2048 }),
  rules: Type.Array(ReplicationRule, { minItems: 1, maxItems: MAX_REPLICATION_RULES }),
});
/** A bucket's replication configuration. */
export type ReplicationConfiguration = Static<typeof ReplicationConfiguration>;

/** What a rule is matched against: a version's key and tags (a delete marker has none). */
export interface ReplicationSubject {
  key: string;
  tags?: Readonly<Record<string, string>> | undefined;
}

/** Where one change goes: a destination, the rule that sends it there, and whether that rule sends delete markers. */
export interface ReplicationMatch {
  arn: string;
  rule: ReplicationRule;
  deleteMarkers: boolean;
}

/** Whether a rule's filter selects `subject`: the key starts with the prefix (compared as text) and every tag is on it. */
export function replicationFilterMatches(filter: ReplicationFilter, subject: ReplicationSubject): boolean {
  if (filter.prefix !== undefined && !subject.key.startsWith(filter.prefix)) return false;
  for (const [name, value] of Object.entries(filter.tags ?? {})) {
    if (subject.tags === undefined || !Object.hasOwn(subject.tags, name) || subject.tags[name] !== value) return false;
  }
  return true;
}

/** Whether a rule replicates delete markers: the legacy form always does, as S3's first schema did; a Filter rule when it says Enabled. */
export function replicatesDeleteMarkers(rule: ReplicationRule): boolean {
  return rule.form === 'Prefix' || rule.deleteMarkerReplication === 'Enabled';
}

/**
 * The destinations a change of `subject` goes to, one per destination ARN, each with the rule that
 * decides it: among the enabled rules whose filter selects the subject, the one of greatest priority
 * (rules without one, the legacy form, in document order). For a delete marker pass no tags (it has
 * none) and send it only where `deleteMarkers` holds. Destinations in the configuration's order.
 */
export function matchingReplicationRules(configuration: ReplicationConfiguration | undefined, subject: ReplicationSubject): ReplicationMatch[] {
  const chosen = new Map<string, ReplicationRule>();
  for (const rule of configuration?.rules ?? []) {
    if (!rule.enabled || !replicationFilterMatches(rule.filter, subject)) continue;
    const current = chosen.get(rule.destination.arn);
    if (current === undefined || (rule.priority ?? -1) > (current.priority ?? -1)) chosen.set(rule.destination.arn, rule);
  }
  return [...chosen].map(([arn, rule]) => ({ arn, rule, deleteMarkers: replicatesDeleteMarkers(rule) }));
}
