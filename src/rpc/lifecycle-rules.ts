import Type, { type Static } from 'typebox';

/**
 * A bucket's lifecycle rules as they are stored in its record, and what they mean. Gateways read them to
 * answer `x-amz-expiration` and `x-amz-abort-date`; the lifecycle worker on the nodes applies them. Both
 * sides must compute the same dates, so the meaning lives here beside the stored form.
 */

const Count = Type.Integer({ minimum: 0 });
const Positive = Type.Integer({ minimum: 1 });

/** What a rule's Filter (or legacy top-level Prefix) selects: every condition must hold. */
export const LifecycleFilter = Type.Object({
  prefix: Type.Optional(Type.String()),
  tags: Type.Optional(Type.Record(Type.String(), Type.String())),
  sizeGreaterThan: Type.Optional(Count),
  sizeLessThan: Type.Optional(Count),
});
/** What a rule's filter selects. */
export type LifecycleFilter = Static<typeof LifecycleFilter>;

/** One rule of a bucket's lifecycle configuration (S3's Rule). */
export const LifecycleRule = Type.Object({
  id: Type.String(),
  enabled: Type.Boolean(),
  /** How the filter was written: S3's `<Filter>` element or the legacy top-level `<Prefix>`; rendered back the same way. */
  form: Type.Union([Type.Literal('Filter'), Type.Literal('Prefix')]),
  filter: LifecycleFilter,
  /** Expiration: after `days` (rounded up to the start of the next day), at `dateMs`, or delete markers with no versions left. */
  expiration: Type.Optional(
    Type.Object({ days: Type.Optional(Positive), dateMs: Type.Optional(Type.Number()), expiredObjectDeleteMarker: Type.Optional(Type.Boolean()) }),
  ),
  /** NoncurrentVersionExpiration: noncurrent versions go `noncurrentDays` after they became noncurrent, the newest `newerNoncurrentVersions` kept. */
  noncurrentExpiration: Type.Optional(Type.Object({ noncurrentDays: Positive, newerNoncurrentVersions: Type.Optional(Positive) })),
  /** AbortIncompleteMultipartUpload's DaysAfterInitiation. */
  abortIncompleteUploadDays: Type.Optional(Positive),
});
/** One lifecycle rule. */
export type LifecycleRule = Static<typeof LifecycleRule>;

/** What a filter is matched against: a version's key, tags and size. */
export interface LifecycleSubject {
  key: string;
  tags?: Readonly<Record<string, string>> | undefined;
  sizeBytes: number;
}

/** A date a rule fixes for something, and the rule's id (S3's expiry-date/rule-id and abort-date/abort-rule-id). */
export interface LifecycleDate {
  atMs: number;
  ruleId: string;
}

/** Whether a rule's filter selects `subject`. */
export function lifecycleFilterMatches(filter: LifecycleFilter, subject: LifecycleSubject): boolean {
  if (filter.prefix !== undefined && !subject.key.startsWith(filter.prefix)) return false;
  if (filter.sizeGreaterThan !== undefined && !(subject.sizeBytes > filter.sizeGreaterThan)) return false;
  if (filter.sizeLessThan !== undefined && !(subject.sizeBytes < filter.sizeLessThan)) return false;
  for (const [name, value] of Object.entries(filter.tags ?? {})) {
    if (subject.tags?.[name] !== value) return false;
  }
  return true;
}

/**
 * `days` after `fromMs`, rounded up to the start of the next day, as S3 counts ("midnight UTC"). A day is
 * `dayMs` long: 86,400,000 in production, seconds in tests; days start at multiples of it since the epoch.
 */
export function afterDays(fromMs: number, days: number, dayMs: number): number {
  return Math.ceil((fromMs + days * dayMs) / dayMs) * dayMs;
}

function earliest(dates: readonly LifecycleDate[]): LifecycleDate | undefined {
  let best: LifecycleDate | undefined;
  for (const date of dates) if (best === undefined || date.atMs < best.atMs) best = date;
  return best;
}

/** When the enabled rules expire a current version written at `lastModifiedMs`, by the earliest rule; undefined when none does. */
export function currentExpiry(rules: readonly LifecycleRule[], subject: LifecycleSubject, lastModifiedMs: number, dayMs: number): LifecycleDate | undefined {
  const dates: LifecycleDate[] = [];
  for (const rule of rules) {
    const { expiration } = rule;
    if (!rule.enabled || expiration === undefined || !lifecycleFilterMatches(rule.filter, subject)) continue;
    if (expiration.days !== undefined) dates.push({ atMs: afterDays(lastModifiedMs, expiration.days, dayMs), ruleId: rule.id });
    if (expiration.dateMs !== undefined) dates.push({ atMs: expiration.dateMs, ruleId: rule.id });
  }
  return earliest(dates);
}

/** The NoncurrentVersionExpiration that applies to a key's noncurrent versions (the one keeping the fewest days wins, as the earliest date). */
export function noncurrentRules(rules: readonly LifecycleRule[], subject: LifecycleSubject): { rule: LifecycleRule; noncurrentDays: number; keep: number }[] {
  return rules.flatMap((rule) =>
    rule.enabled && rule.noncurrentExpiration !== undefined && lifecycleFilterMatches(rule.filter, subject)
      ? [{ rule, noncurrentDays: rule.noncurrentExpiration.noncurrentDays, keep: rule.noncurrentExpiration.newerNoncurrentVersions ?? 0 }]
      : [],
  );
}

/**
 * The noncurrent versions of `versions` (a key's versions, newest first, the current one first) that the
 * rules remove at `nowMs`: past NoncurrentDays since the next newer version was written (when it became
 * noncurrent), with at least the rule's NewerNoncurrentVersions newer noncurrent versions kept above them.
 */
export function dueNoncurrent<T extends LifecycleSubject & { lastModifiedMs: number }>(rules: readonly LifecycleRule[], versions: readonly T[], nowMs: number, dayMs: number): T[] {
  const due: T[] = [];
  for (let i = 1; i < versions.length; i += 1) {
    const version = versions[i] as T;
    const since = (versions[i - 1] as T).lastModifiedMs;
    const newerNoncurrent = i - 1;
    if (noncurrentRules(rules, version).some(({ noncurrentDays, keep }) => newerNoncurrent >= keep && afterDays(since, noncurrentDays, dayMs) <= nowMs)) due.push(version);
  }
  return due;
}

/**
 * Whether an enabled rule removes a delete marker that is its key's only version left: one with
 * ExpiredObjectDeleteMarker, or an Expiration Days rule once the marker is older than its days, as S3
 * does that cleanup for Days rules ("When you specify the Days tag, Amazon S3 automatically performs
 * ExpiredObjectDeleteMarker cleanup when the delete markers are old enough"); a Date rule does not.
 */
export function removesExpiredMarker(rules: readonly LifecycleRule[], marker: { key: string; lastModifiedMs: number }, nowMs: number, dayMs: number): boolean {
  return rules.some((rule) => {
    if (!rule.enabled || rule.expiration === undefined || !lifecycleFilterMatches(rule.filter, { key: marker.key, sizeBytes: 0 })) return false;
    const { expiredObjectDeleteMarker, days } = rule.expiration;
    return expiredObjectDeleteMarker === true || (days !== undefined && afterDays(marker.lastModifiedMs, days, dayMs) <= nowMs);
  });
}

/** When the enabled rules abort an incomplete multipart upload of `key` initiated at `initiatedMs`; undefined when none does. */
export function uploadAbortDate(rules: readonly LifecycleRule[], key: string, initiatedMs: number, dayMs: number): LifecycleDate | undefined {
  const dates: LifecycleDate[] = [];
  for (const rule of rules) {
    const days = rule.abortIncompleteUploadDays;
    // An upload has neither tags nor a size yet: only the prefix can select it (a rule with others is refused).
    if (!rule.enabled || days === undefined || (rule.filter.prefix !== undefined && !key.startsWith(rule.filter.prefix))) continue;
    dates.push({ atMs: afterDays(initiatedMs, days, dayMs), ruleId: rule.id });
  }
  return earliest(dates);
}
