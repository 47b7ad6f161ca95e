import { parseReplicationArn } from '../../events/index.js';
import { MAX_REPLICATION_DESTINATIONS, MAX_REPLICATION_RULES, type ReplicationConfiguration, type ReplicationFilter, type ReplicationRule } from '../../rpc/index.js';
import { S3Error } from './errors.js';
import { requestDocumentRoot } from './request-document.js';
import { validateTags } from './tag-set.js';
import { element, list, literal, renderXml } from './xml.js';

/**
 * Largest PutBucketReplication body read: room for 1,000 rules of about 500 bytes (a prefix, an ID and
 * an ARN each), while the bucket record that stores them stays well inside a node message (1 MiB).
 */
export const MAX_REPLICATION_BYTES = 512 * 1024;
const MAX_ID_CHARS = 255;
const MAX_PREFIX_BYTES = 1024;
const MAX_ROLE_CHARS = 2048;
const MAX_FILTER_TAGS = 10;
const MAX_PRIORITY = 2_147_483_647;

/** S3's storage classes a destination may name; the remote store decides what it makes of them. */
const STORAGE_CLASSES = new Set(['STANDARD', 'REDUCED_REDUNDANCY', 'STANDARD_IA', 'ONEZONE_IA', 'INTELLIGENT_TIERING', 'GLACIER', 'DEEP_ARCHIVE', 'OUTPOSTS', 'GLACIER_IR', 'EXPRESS_ONEZONE']);
const RULE_FIELDS = new Set(['ID', 'Priority', 'Status', 'Filter', 'Prefix', 'DeleteMarkerReplication', 'ExistingObjectReplication', 'Destination', 'SourceSelectionCriteria']);
const FILTER_FIELDS = new Set(['Prefix', 'Tag', 'And']);
/** Destination features of S3 that need AWS accounts, KMS or replication metrics: refused, not silently dropped. */
const UNSUPPORTED_DESTINATION = new Set(['Account', 'AccessControlTranslation', 'EncryptionConfiguration', 'Metrics', 'ReplicationTime']);
const SCHEMA_NOTE = 'Please refer to S3 Developer Guide for more information.';

/** An `Enabled`/`Disabled` Status inside `name`, or undefined when `name` is absent. */
function status(fields: Record<string, unknown>, name: string): 'Enabled' | 'Disabled' | undefined {
  const holder = element(fields, name);
  if (holder === undefined) return undefined;
  const value = literal(holder, 'Status')?.trim();
  if (value !== 'Enabled' && value !== 'Disabled') throw new S3Error('MalformedXML');
  return value;
}

function argument(name: string, value: string, message: string): S3Error {
  return new S3Error('InvalidArgument', { message, fields: { ArgumentName: name, ArgumentValue: value.slice(0, 1024) } });
}

function prefixOf(value: string): string {
  if (Buffer.byteLength(value) > MAX_PREFIX_BYTES) throw argument('Prefix', value, `The prefix is longer than ${MAX_PREFIX_BYTES} bytes.`);
  return value;
}

function tagsOf(entries: readonly unknown[]): Record<string, string> {
  const pairs = entries.map((entry): [string, string] => {
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw new S3Error('MalformedXML');
    const fields = entry as Record<string, unknown>;
    const key = literal(fields, 'Key');
    if (key === undefined) throw new S3Error('MalformedXML');
    return [key, literal(fields, 'Value') ?? ''];
  });
  const seen = new Set<string>();
  for (const [key] of pairs) {
    if (seen.has(key)) throw new S3Error('InvalidRequest', { message: 'Duplicate Tag Keys are not allowed.' });
    seen.add(key);
  }
  if (pairs.length > MAX_FILTER_TAGS) throw new S3Error('InvalidRequest', { message: `A replication filter cannot have more than ${MAX_FILTER_TAGS} tags.` });
  return validateTags(pairs, MAX_FILTER_TAGS);
}

/** A `<Filter>`: exactly one of Prefix, Tag or And (an And of at least two conditions), or nothing: every key. */
function parseFilter(fields: Record<string, unknown>): ReplicationFilter {
  const present = Object.keys(fields);
  if (present.some((name) => !FILTER_FIELDS.has(name)) || present.length > 1) throw new S3Error('MalformedXML');
  const and = element(fields, 'And');
  if (and !== undefined && Object.keys(and).some((name) => name !== 'Prefix' && name !== 'Tag')) throw new S3Error('MalformedXML');
  const source = and ?? fields;
  const filter: ReplicationFilter = {};
  const prefix = literal(source, 'Prefix');
  if (prefix !== undefined) filter.prefix = prefixOf(prefix);
  const tags = list(source['Tag']);
  if (and === undefined && tags.length > 1) throw new S3Error('MalformedXML');
  if (and !== undefined && tags.length + (prefix === undefined ? 0 : 1) < 2) throw new S3Error('MalformedXML', { message: 'An And holds at least two conditions.' });
  if (tags.length > 0) filter.tags = tagsOf(tags);
  return filter;
}

function parsePriority(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (!/^-?\d{1,12}$/.test(text)) throw new S3Error('MalformedXML');
  const priority = Number(text);
  if (priority < 0 || priority > MAX_PRIORITY) throw new S3Error('InvalidRequest', { message: `Priority must be between 0 and ${MAX_PRIORITY}.` });
  return priority;
}

function parseDestination(fields: Record<string, unknown> | undefined, region: string): ReplicationRule['destination'] {
  if (fields === undefined) throw new S3Error('MalformedXML');
  for (const name of Object.keys(fields)) {
    if (UNSUPPORTED_DESTINATION.has(name)) throw new S3Error('NotImplemented', { message: `Destination ${name} is not supported.` });
    if (name !== 'Bucket' && name !== 'StorageClass') throw new S3Error('MalformedXML');
  }
  const arn = literal(fields, 'Bucket')?.trim();
  if (arn === undefined || arn === '') throw new S3Error('MalformedXML');
  // A bucket ARN of S3 (arn:aws:s3:::B) names no bucket here: a destination is a replication target.
  if (arn.length > 2048 || parseReplicationArn(arn, region) === undefined) throw argument('Bucket', arn, 'Invalid bucket ARN.');
  const storageClass = literal(fields, 'StorageClass')?.trim();
  if (storageClass !== undefined && !STORAGE_CLASSES.has(storageClass)) throw new S3Error('MalformedXML');
  return { arn, ...(storageClass === undefined ? {} : { storageClass }) };
}

function parseRule(entry: unknown, legacy: boolean, region: string, newId: () => string): ReplicationRule {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw new S3Error('MalformedXML');
  const fields = entry as Record<string, unknown>;
  if (Object.keys(fields).some((name) => !RULE_FIELDS.has(name))) throw new S3Error('MalformedXML');
  if (fields['SourceSelectionCriteria'] !== undefined) throw new S3Error('NotImplemented', { message: 'SourceSelectionCriteria is not supported.' });
  const givenId = literal(fields, 'ID')?.trim();
  if (givenId !== undefined && [...givenId].length > MAX_ID_CHARS) throw argument('ID', givenId, `The ID is longer than ${MAX_ID_CHARS} characters.`);
  const ruleStatus = literal(fields, 'Status')?.trim();
  if (ruleStatus !== 'Enabled' && ruleStatus !== 'Disabled') throw new S3Error('MalformedXML');
  const filterElement = element(fields, 'Filter');
  const legacyPrefix = literal(fields, 'Prefix');
  if ((filterElement === undefined) === (legacyPrefix === undefined)) throw new S3Error('MalformedXML');
  const filter = filterElement === undefined ? { prefix: prefixOf(legacyPrefix as string) } : parseFilter(filterElement);
  const priority = parsePriority(literal(fields, 'Priority'));
  const deleteMarkers = status(fields, 'DeleteMarkerReplication');
  // S3 reads a configuration with any rule lacking a Filter as its first schema, where rules have no
  // priority and delete markers always replicate; in the current one both must be stated.
  const version = legacy ? 'cannot be used' : 'must be specified';
  if (legacy ? priority !== undefined : priority === undefined) {
    throw new S3Error('InvalidRequest', { message: `Priority ${version} for this version of Cross Region Replication configuration schema. ${SCHEMA_NOTE}` });
  }
  if (legacy ? deleteMarkers !== undefined : deleteMarkers === undefined) {
    throw new S3Error('InvalidRequest', { message: `DeleteMarkerReplication ${version} for this version of Cross Region Replication configuration schema. ${SCHEMA_NOTE}` });
  }
  if (deleteMarkers === 'Enabled' && filter.tags !== undefined) {
    throw new S3Error('InvalidRequest', { message: `Delete marker replication is not supported if any Tag filter is specified. ${SCHEMA_NOTE}` });
  }
  const existing = status(fields, 'ExistingObjectReplication');
  return {
    id: givenId === undefined || givenId === '' ? newId() : givenId,
    enabled: ruleStatus === 'Enabled',
    form: filterElement === undefined ? 'Prefix' : 'Filter',
    ...(priority === undefined ? {} : { priority }),
    filter,
    ...(deleteMarkers === undefined ? {} : { deleteMarkerReplication: deleteMarkers }),
    ...(existing === undefined ? {} : { existingObjectReplication: existing }),
    destination: parseDestination(element(fields, 'Destination'), region),
  };
}

/**
 * A PutBucketReplication document as a configuration, validated as S3 does: MalformedXML for what does
 * not fit the schema, InvalidRequest for rules that cannot go together (a priority repeated for one
 * destination, delete markers with a tag filter, fields of the other schema version), InvalidArgument
 * for a destination that is not a replication target's ARN (`region` is this cluster's) and for values
 * out of range. Whether the named target exists is the caller's to check. Rules without an ID get `newId()`.
 */
export function parseReplicationXml(body: string, region: string, newId: () => string): ReplicationConfiguration {
  const root = requestDocumentRoot(body, 'ReplicationConfiguration');
  if (Object.keys(root).some((name) => name !== 'Role' && name !== 'Rule')) throw new S3Error('MalformedXML');
  const role = literal(root, 'Role')?.trim() ?? '';
  if (role.length > MAX_ROLE_CHARS) throw argument('Role', role, 'Invalid Role specified in replication configuration');
  const entries = list(root['Rule']);
  if (entries.length === 0) throw new S3Error('MalformedXML');
  if (entries.length > MAX_REPLICATION_RULES) {
    throw new S3Error('InvalidRequest', { message: `The number of replication rules must not exceed the allowed limit of ${MAX_REPLICATION_RULES} rules.` });
  }
  const legacy = entries.some((entry) => typeof entry === 'object' && entry !== null && (entry as Record<string, unknown>)['Filter'] === undefined);
  const rules = entries.map((entry) => parseRule(entry, legacy, region, newId));
  const ids = new Set<string>();
  const priorities = new Set<string>();
  for (const rule of rules) {
    if (ids.has(rule.id)) throw argument('ID', rule.id, 'Rule Id must be unique.');
    ids.add(rule.id);
    if (rule.priority === undefined) continue;
    // Priorities order the rules of one destination; rules for different destinations each apply.
    const slot = `${rule.priority} ${rule.destination.arn}`;
    if (priorities.has(slot)) throw new S3Error('InvalidRequest', { message: `Found duplicate priority ${rule.priority}.` });
    priorities.add(slot);
  }
  // Each destination a write's rules select goes in its change note, which has room for so many.
  const destinations = new Set(rules.map((rule) => rule.destination.arn));
  if (destinations.size > MAX_REPLICATION_DESTINATIONS) {
    throw new S3Error('InvalidRequest', { message: `A replication configuration names at most ${MAX_REPLICATION_DESTINATIONS} destinations.` });
  }
  return { role, rules };
}

function renderFilter(filter: ReplicationFilter): Record<string, unknown> {
  const tags = Object.entries(filter.tags ?? {}).map(([Key, Value]) => ({ Key, Value }));
  const conditions: Record<string, unknown> = {
    ...(filter.prefix === undefined ? {} : { Prefix: filter.prefix }),
    ...(tags.length === 0 ? {} : { Tag: tags.length === 1 ? tags[0] : tags }),
  };
  return tags.length + (filter.prefix === undefined ? 0 : 1) > 1 ? { And: conditions } : conditions;
}

/** A bucket's configuration as the ReplicationConfiguration document GetBucketReplication answers with. */
export function renderReplication(configuration: ReplicationConfiguration): string {
  return renderXml('ReplicationConfiguration', {
    Role: configuration.role,
    Rule: configuration.rules.map((rule) => ({
      ID: rule.id,
      ...(rule.priority === undefined ? {} : { Priority: rule.priority }),
      ...(rule.form === 'Prefix' ? { Prefix: rule.filter.prefix ?? '' } : { Filter: renderFilter(rule.filter) }),
      Status: rule.enabled ? 'Enabled' : 'Disabled',
      ...(rule.existingObjectReplication === undefined ? {} : { ExistingObjectReplication: { Status: rule.existingObjectReplication } }),
      Destination: { Bucket: rule.destination.arn, ...(rule.destination.storageClass === undefined ? {} : { StorageClass: rule.destination.storageClass }) },
      ...(rule.deleteMarkerReplication === undefined ? {} : { DeleteMarkerReplication: { Status: rule.deleteMarkerReplication } }),
    })),
  });
}
