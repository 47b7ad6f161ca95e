import { eventMatches, NOTIFICATION_EVENTS, type NotificationRule } from '../../rpc/index.js';
import { S3Error } from './errors.js';
import { list, parseXml, renderXml } from './xml.js';

const KNOWN_EVENTS: ReadonlySet<string> = new Set(NOTIFICATION_EVENTS);

/** Largest PutBucketNotificationConfiguration body read. */
export const MAX_NOTIFICATION_BYTES = 256 * 1024;
/** Most configurations one bucket holds. */
const MAX_CONFIGURATIONS = 100;
/** Longest Id, prefix or suffix: an Id as S3's, a prefix or suffix as long as a key. */
const MAX_ID_CHARS = 255;
const MAX_FILTER_BYTES = 1024;

/** Whether two configured names cover at least one event in common. */
function eventsOverlap(a: string, b: string): boolean {
  return eventMatches(a, b) || eventMatches(b, a);
}

/** Whether some key could pass both filters: one prefix extends the other, and one suffix ends the other. */
function filtersOverlap(a: NotificationRule, b: NotificationRule): boolean {
  const pa = a.prefix ?? '';
  const pb = b.prefix ?? '';
  const sa = a.suffix ?? '';
  const sb = b.suffix ?? '';
  return (pa.startsWith(pb) || pb.startsWith(pa)) && (sa.endsWith(sb) || sb.endsWith(sa));
}

function invalid(message: string, name?: string, value?: string): S3Error {
  return new S3Error('InvalidArgument', { message, fields: name === undefined ? {} : { ArgumentName: name, ArgumentValue: value ?? '' } });
}

function text(value: unknown): string {
  if (typeof value === 'number') return String(value);
  if (typeof value !== 'string') throw new S3Error('MalformedXML');
  return value;
}

function filterOf(value: unknown): { prefix?: string; suffix?: string } {
  if (value === undefined || value === '') return {};
  if (typeof value !== 'object' || value === null) throw new S3Error('MalformedXML');
  const key = (value as Record<string, unknown>)['S3Key'];
  if (key === undefined || key === '') return {};
  if (typeof key !== 'object' || key === null) throw new S3Error('MalformedXML');
  const found: { prefix?: string; suffix?: string } = {};
  for (const rule of list((key as Record<string, unknown>)['FilterRule'])) {
    if (typeof rule !== 'object' || rule === null) throw new S3Error('MalformedXML');
    const name = text((rule as Record<string, unknown>)['Name']).toLowerCase();
    const ruleValue = (rule as Record<string, unknown>)['Value'];
    const filterValue = ruleValue === undefined ? '' : text(ruleValue);
    if (name !== 'prefix' && name !== 'suffix') throw invalid('filter rule name must be either prefix or suffix', 'FilterRule', name.slice(0, 64));
    if (found[name] !== undefined) throw invalid(`Cannot specify more than one ${name} rule in a filter.`, 'FilterRule', name);
    if (Buffer.byteLength(filterValue) > MAX_FILTER_BYTES) throw invalid(`The ${name} is longer than ${MAX_FILTER_BYTES} bytes.`, 'FilterRule', name);
    found[name] = filterValue;
  }
  return found;
}

/**
 * A PutBucketNotificationConfiguration document as configurations, validated as S3 does: known events,
 * at most one prefix and one suffix rule per filter, no two configurations sharing an event type on
 * keys both filters could pass, bounded counts and lengths. An empty document means none. Destinations
 * are checked by the caller, which knows the targets; a CloudFunctionConfiguration names no target
 * Tessera can have, and an EventBridgeConfiguration a service it has not.
 */
export function parseNotificationXml(body: string, newId: () => string): NotificationRule[] {
  let document: Record<string, unknown>;
  try {
    document = parseXml(body);
  } catch (err) {
    throw new S3Error('MalformedXML', { cause: err });
  }
  const root = document['NotificationConfiguration'];
  if (root === '') return [];
  if (typeof root !== 'object' || root === null) throw new S3Error('MalformedXML');
  const fields = root as Record<string, unknown>;
  for (const name of Object.keys(fields)) {
    if (name === 'CloudFunctionConfiguration') {
      const arn = list(fields[name]).map((c) => (typeof c === 'object' && c !== null ? (c as Record<string, unknown>)['CloudFunction'] : undefined))[0];
      throw new S3Error('InvalidArgument', {
        message: 'Unable to validate the following destination configurations',
        fields: { ArgumentName1: typeof arn === 'string' ? arn.slice(0, 2048) : '', ArgumentValue1: 'Functions are not supported as destinations' },
      });
    }
    if (name === 'EventBridgeConfiguration') throw invalid('EventBridge is not supported as a destination.', name);
    if (name !== 'QueueConfiguration' && name !== 'TopicConfiguration' && !name.startsWith('@_')) throw new S3Error('MalformedXML');
  }
  const rules: NotificationRule[] = [];
  for (const kind of ['Topic', 'Queue'] as const) {
    for (const entry of list(fields[`${kind}Configuration`])) {
      if (rules.length === MAX_CONFIGURATIONS) throw invalid(`A bucket holds at most ${MAX_CONFIGURATIONS} notification configurations.`);
      if (typeof entry !== 'object' || entry === null) throw new S3Error('MalformedXML');
      const config = entry as Record<string, unknown>;
      const id = config['Id'] === undefined || config['Id'] === '' ? newId() : text(config['Id']);
      if (id.length > MAX_ID_CHARS) throw invalid(`An Id is at most ${MAX_ID_CHARS} characters.`, 'Id');
      const arn = text(config[kind]);
      if (arn === '' || arn.length > 2048) throw invalid(`A ${kind}Configuration names its ${kind} ARN.`, kind);
      const events = list(config['Event']).map(text);
      if (events.length === 0) throw invalid('A configuration names at least one event.', 'Event');
      for (const event of events) {
        if (!KNOWN_EVENTS.has(event)) throw invalid('The event is not supported for notifications', 'Event', event.slice(0, 128));
      }
      rules.push({ id, kind, arn, events: [...new Set(events)], ...filterOf(config['Filter']) });
    }
  }
  for (let i = 0; i < rules.length; i += 1) {
    for (let j = i + 1; j < rules.length; j += 1) {
      const a = rules[i] as NotificationRule;
      const b = rules[j] as NotificationRule;
      if (a.events.some((x) => b.events.some((y) => eventsOverlap(x, y))) && filtersOverlap(a, b)) {
        throw invalid('Configurations overlap. Configurations on the same bucket cannot share a common event type.');
      }
    }
  }
  return rules;
}

/** A bucket's configurations as the NotificationConfiguration document GetBucketNotificationConfiguration answers. */
export function renderNotification(rules: readonly NotificationRule[]): string {
  const element = (rule: NotificationRule): Record<string, unknown> => {
    const filterRules = [
      ...(rule.prefix === undefined ? [] : [{ Name: 'Prefix', Value: rule.prefix }]),
      ...(rule.suffix === undefined ? [] : [{ Name: 'Suffix', Value: rule.suffix }]),
    ];
    return {
      Id: rule.id,
      [rule.kind]: rule.arn,
      Event: rule.events,
      ...(filterRules.length === 0 ? {} : { Filter: { S3Key: { FilterRule: filterRules } } }),
    };
  };
  const topics = rules.filter((r) => r.kind === 'Topic').map(element);
  const queues = rules.filter((r) => r.kind === 'Queue').map(element);
  return renderXml('NotificationConfiguration', {
    ...(topics.length === 0 ? {} : { TopicConfiguration: topics }),
    ...(queues.length === 0 ? {} : { QueueConfiguration: queues }),
  });
}
