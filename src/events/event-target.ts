import { TesseraError } from '../common/index.js';

/**
 * Targets: where an operator lets a bucket's changes go. Event targets receive notifications; an `s3`
 * target (another Tessera cluster or any S3-compatible endpoint) receives replicas. A definition is
 * plain data, stored as JSON in the cluster's user records (`target:NAME`, see TARGET_RECORD_PREFIX)
 * and named in a bucket's notification or replication configuration by its ARN.
 */

/** The kinds of event target, each with the maintained client library of its protocol. */
export const TARGET_TYPES = ['webhook', 'amqp', 'nats', 'redis', 'mqtt'] as const;
/** One kind of target. */
export type TargetType = (typeof TARGET_TYPES)[number];

/** An event target's definition; secrets (a bearer token, a password in a URL) are part of it and never listed. */
export type TargetDefinition =
  | { type: 'webhook'; url: string; bearerToken?: string; caPem?: string }
  | { type: 'amqp'; url: string; exchange: string; routingKey: string }
  | { type: 'nats'; url: string; subject: string }
  | { type: 'redis'; url: string; key: string; format: 'list' | 'stream' }
  | { type: 'mqtt'; url: string; topic: string; qos: 0 | 1 | 2 };

/**
 * A replication target: an S3 endpoint, the bucket replicas go to there, and the key that writes them.
 * The secret key is part of the definition (every node that delivers needs it) and never listed.
 */
export type S3TargetDefinition = { type: 's3'; endpoint: string; bucket: string; region: string; accessKeyId: string; secretAccessKey: string };

/** Any definition a target record holds: an event target or a replication target. */
export type DefinedTarget = TargetDefinition | S3TargetDefinition;

/** Every kind of target `tessera admin target add` defines. */
export const DEFINED_TARGET_TYPES = [...TARGET_TYPES, 's3'] as const;

/** Target names: what an ARN can carry without escaping. */
export const TARGET_NAME = /^[A-Za-z0-9_-]{1,64}$/;
/** Longest bearer token, exchange, routing key, subject, key or topic. */
const MAX_FIELD_CHARS = 1024;
/** Longest URL. */
const MAX_URL_CHARS = 2048;
/** Longest CA bundle (PEM). */
const MAX_CA_CHARS = 64 * 1024;
/**
 * A remote bucket's name: S3's legacy rules (letters of either case, digits, `.`, `_`, `-`, up to 255,
 * beginning with a letter or digit) cover every S3-compatible store's; no `:` or `/`, and never `.` or
 * `..`, so it can stand in an ARN and a URL path.
 */
const REMOTE_BUCKET = /^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$/;
/** A region name: `us-east-1`, `garage`, `local`. */
const REGION = /^[A-Za-z0-9_-]{1,64}$/;

const URL_SCHEMES: Record<TargetType, readonly string[]> = {
  webhook: ['http:', 'https:'],
  amqp: ['amqp:', 'amqps:'],
  nats: ['nats:', 'tls:'],
  redis: ['redis:', 'rediss:'],
  mqtt: ['mqtt:', 'mqtts:'],
};

/** A definition that cannot be stored or used; `message` says which field and why. */
export class TargetDefinitionError extends TesseraError<'InvalidTarget'> {
  constructor(message: string) {
    super('InvalidTarget', message);
  }
}

function field(value: unknown, name: string, options: { optional?: boolean; maxChars?: number } = {}): string | undefined {
  if (value === undefined && options.optional === true) return undefined;
  if (typeof value !== 'string' || value === '') throw new TargetDefinitionError(`${name} is required`);
  if (value.length > (options.maxChars ?? MAX_FIELD_CHARS)) throw new TargetDefinitionError(`${name} is longer than ${options.maxChars ?? MAX_FIELD_CHARS} characters`);
  // A control character in a subject, key or header value would let a definition smuggle protocol text.
  if ([...value].some((c) => c.charCodeAt(0) < 0x20 && !(name === 'caPem' && (c === '\n' || c === '\r'))) || value.includes('\u007f')) {
    throw new TargetDefinitionError(`${name} holds a control character`);
  }
  return value;
}

function url(value: unknown, type: TargetType): string {
  const text = field(value, 'url', { maxChars: MAX_URL_CHARS }) as string;
  let parsed: URL;
  try {
    parsed = new URL(text);
  } catch {
    throw new TargetDefinitionError(`url ${JSON.stringify(redactUrl(text))} is not a URL`);
  }
  if (!URL_SCHEMES[type].includes(parsed.protocol)) throw new TargetDefinitionError(`url of a ${type} target starts with ${URL_SCHEMES[type].join(' or ')}`);
  if (parsed.hostname === '') throw new TargetDefinitionError('url names no host');
  return text;
}

/** A definition checked field by field; throws TargetDefinitionError naming the first field that is wrong. */
export function checkTargetDefinition(value: unknown): TargetDefinition {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new TargetDefinitionError('a target definition is an object');
  const v = value as Record<string, unknown>;
  const type = v['type'];
  if (typeof type !== 'string' || !(TARGET_TYPES as readonly string[]).includes(type)) throw new TargetDefinitionError(`type is one of ${TARGET_TYPES.join(', ')}`);
  switch (type as TargetType) {
    case 'webhook': {
      const token = field(v['bearerToken'], 'bearerToken', { optional: true });
      const ca = field(v['caPem'], 'caPem', { optional: true, maxChars: MAX_CA_CHARS });
      return { type: 'webhook', url: url(v['url'], 'webhook'), ...(token === undefined ? {} : { bearerToken: token }), ...(ca === undefined ? {} : { caPem: ca }) };
    }
    case 'amqp':
      // The default exchange is named '' in AMQP; an explicit name keeps a definition from meaning it by accident.
      return { type: 'amqp', url: url(v['url'], 'amqp'), exchange: field(v['exchange'], 'exchange') as string, routingKey: field(v['routingKey'], 'routingKey') as string };
    case 'nats':
      return { type: 'nats', url: url(v['url'], 'nats'), subject: field(v['subject'], 'subject') as string };
    case 'redis': {
      const format = v['format'];
      if (format !== 'list' && format !== 'stream') throw new TargetDefinitionError('format is list or stream');
      return { type: 'redis', url: url(v['url'], 'redis'), key: field(v['key'], 'key') as string, format };
    }
    case 'mqtt': {
      const qos = v['qos'];
      if (qos !== 0 && qos !== 1 && qos !== 2) throw new TargetDefinitionError('qos is 0, 1 or 2');
      const topic = field(v['topic'], 'topic') as string;
      if (topic.includes('+') || topic.includes('#')) throw new TargetDefinitionError('topic is a topic name, not a filter: no + or #');
      return { type: 'mqtt', url: url(v['url'], 'mqtt'), topic, qos };
    }
  }
}

/**
 * A replication target's definition checked field by field. The endpoint is an http or https URL with
 * no user or password in it (the keys are fields of their own), no query and no fragment.
 */
export function checkS3TargetDefinition(value: unknown): S3TargetDefinition {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new TargetDefinitionError('a target definition is an object');
  const v = value as Record<string, unknown>;
  if (v['type'] !== 's3') throw new TargetDefinitionError('type is s3');
  const endpoint = field(v['endpoint'], 'endpoint', { maxChars: MAX_URL_CHARS }) as string;
  let parsed: URL;
  try {
    parsed = new URL(endpoint);
  } catch {
    throw new TargetDefinitionError('endpoint is not a URL');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new TargetDefinitionError('endpoint of an s3 target starts with http: or https:');
  if (parsed.hostname === '') throw new TargetDefinitionError('endpoint names no host');
  if (parsed.username !== '' || parsed.password !== '') throw new TargetDefinitionError('endpoint holds no user or password: the keys are given on their own');
  if (parsed.search !== '' || parsed.hash !== '') throw new TargetDefinitionError('endpoint has no query or fragment');
  const bucket = field(v['bucket'], 'bucket') as string;
  if (!REMOTE_BUCKET.test(bucket)) throw new TargetDefinitionError('bucket is a bucket name: 1-255 characters of A-Z a-z 0-9 . _ -, the first a letter or digit');
  const region = v['region'] === undefined ? 'us-east-1' : (field(v['region'], 'region') as string);
  if (!REGION.test(region)) throw new TargetDefinitionError('region is 1-64 characters of A-Z a-z 0-9 _ -');
  const accessKeyId = field(v['accessKeyId'], 'accessKeyId', { maxChars: 128 }) as string;
  const secretAccessKey = field(v['secretAccessKey'], 'secretAccessKey', { maxChars: 1024 }) as string;
  return { type: 's3', endpoint, bucket, region, accessKeyId, secretAccessKey };
}

/** Any target's definition checked field by field: an s3 target or an event target. */
export function checkDefinedTarget(value: unknown): DefinedTarget {
  const type = typeof value === 'object' && value !== null ? (value as Record<string, unknown>)['type'] : undefined;
  if (type === 's3') return checkS3TargetDefinition(value);
  if (typeof type !== 'string' || !(TARGET_TYPES as readonly string[]).includes(type)) throw new TargetDefinitionError(`type is one of ${DEFINED_TARGET_TYPES.join(', ')}`);
  return checkTargetDefinition(value);
}

function parsedJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new TargetDefinitionError('a target definition is JSON');
  }
}

/** A stored event target's definition (the JSON of a target record) read back; a replication target is not one. */
export function parseTargetDefinition(text: string): TargetDefinition {
  return checkTargetDefinition(parsedJson(text));
}

/** Any stored definition (the JSON of a target record) read back. */
export function parseDefinedTarget(text: string): DefinedTarget {
  return checkDefinedTarget(parsedJson(text));
}

/** The ARN a bucket configuration names a target by: `arn:tessera:sqs::NAME:TYPE`. */
export function targetArn(name: string, type: TargetType): string {
  return `arn:tessera:sqs::${name}:${type}`;
}

/**
 * The target an ARN names, or undefined when it is not a target ARN. Besides Tessera's own form it
 * takes MinIO's `arn:minio:sqs::NAME:TYPE`, which configurations written for MinIO carry. A region,
 * when present, must be `region` (this cluster's).
 */
export function parseTargetArn(arn: string, region: string): { name: string; type: TargetType } | undefined {
  const named = arnOf(arn, 'sqs', region);
  if (named === undefined || !(TARGET_TYPES as readonly string[]).includes(named.last)) return undefined;
  return { name: named.name, type: named.last as TargetType };
}

/**
 * The target name and last field of `arn:tessera:SERVICE::NAME:LAST` (or MinIO's `arn:minio:...`),
 * or undefined when the ARN is not of that form, names another service, or another region than `region`.
 */
function arnOf(arn: string, service: string, region: string): { name: string; last: string } | undefined {
  const parts = arn.split(':');
  if (parts.length !== 6) return undefined;
  const [scheme, partition, arnService, arnRegion, name, last] = parts as [string, string, string, string, string, string];
  if (scheme !== 'arn' || (partition !== 'tessera' && partition !== 'minio') || arnService !== service) return undefined;
  if (arnRegion !== '' && arnRegion !== region) return undefined;
  return TARGET_NAME.test(name) ? { name, last } : undefined;
}

/** The ARN a replication rule's Destination names a replication target by: `arn:tessera:replication::NAME:BUCKET`. */
export function replicationTargetArn(name: string, bucket: string): string {
  return `arn:tessera:replication::${name}:${bucket}`;
}

/**
 * The replication target and remote bucket an ARN names, or undefined when it is not a replication
 * ARN. Besides Tessera's form it takes MinIO's `arn:minio:replication::NAME:BUCKET`. A region, when
 * present, must be `region` (this cluster's).
 */
export function parseReplicationArn(arn: string, region: string): { name: string; bucket: string } | undefined {
  const named = arnOf(arn, 'replication', region);
  if (named === undefined || !REMOTE_BUCKET.test(named.last)) return undefined;
  return { name: named.name, bucket: named.last };
}

/** The ARN `tessera admin target add` prints for a definition: what a bucket configuration names it by. */
export function definedTargetArn(name: string, definition: DefinedTarget): string {
  return definition.type === 's3' ? replicationTargetArn(name, definition.bucket) : targetArn(name, definition.type);
}

/** A URL with any password in it replaced by `***`. */
export function redactUrl(text: string): string {
  try {
    const parsed = new URL(text);
    if (parsed.password === '') return text;
    parsed.password = '***';
    return parsed.toString();
  } catch {
    // Not a URL: show none of it rather than risk showing a secret.
    return '(not a URL)';
  }
}

/** What `tessera admin target list` shows of a definition: everything but its secrets. */
export function publicTargetFields(definition: DefinedTarget): Record<string, string | number | boolean> {
  if (definition.type === 's3') {
    // The access key id names the key, as AWS shows it; the secret key is only said to be set.
    return { type: 's3', url: definition.endpoint, bucket: definition.bucket, region: definition.region, accessKeyId: definition.accessKeyId, secretAccessKey: true };
  }
  const shown: Record<string, string | number | boolean> = { type: definition.type, url: redactUrl(definition.url) };
  switch (definition.type) {
    case 'webhook':
      shown['bearerToken'] = definition.bearerToken !== undefined;
      shown['customCa'] = definition.caPem !== undefined;
      break;
    case 'amqp':
      shown['exchange'] = definition.exchange;
      shown['routingKey'] = definition.routingKey;
      break;
    case 'nats':
      shown['subject'] = definition.subject;
      break;
    case 'redis':
      shown['key'] = definition.key;
      shown['format'] = definition.format;
      break;
    case 'mqtt':
      shown['topic'] = definition.topic;
      shown['qos'] = definition.qos;
      break;
  }
  return shown;
}
