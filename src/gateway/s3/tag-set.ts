import { S3Error } from './errors.js';
import { compareUtf8 } from './utf8-order.js';
import { requestDocumentRoot } from './request-document.js';

/** S3's limit of tags on an object. */
export const MAX_OBJECT_TAGS = 10;
/** S3's limit of tags on a bucket. */
export const MAX_BUCKET_TAGS = 50;
const MAX_KEY_CHARS = 128;
const MAX_VALUE_CHARS = 256;
// The character class S3 documents for tag keys and values.
const TAG_TEXT = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;

function decodeForm(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    throw new S3Error('InvalidArgument', { message: 'The header \'x-amz-tagging\' shall be encoded as UTF-8 then URLEncoded URL query parameters without tag name duplicates.' });
  }
}

/**
 * Checks a tag set against S3's rules: count, lengths, characters, reserved prefix. Too many tags is
 * InvalidTag, from the x-amz-tagging header and from a Tagging document alike (the s3-tests suite's
 * test_put_excess_tags checks S3's answer).
 */
export function validateTags(entries: readonly [string, string][], maxTags: number): Record<string, string> {
  if (entries.length > maxTags) {
    throw new S3Error('InvalidTag', {
      message: maxTags === MAX_OBJECT_TAGS ? 'Object tags cannot be greater than 10' : `Bucket tags cannot be greater than ${maxTags}`,
    });
  }
  const tags: Record<string, string> = {};
  for (const [key, value] of entries) {
    const keyChars = [...key].length;
    if (keyChars === 0 || keyChars > MAX_KEY_CHARS || !TAG_TEXT.test(key)) {
      throw new S3Error('InvalidTag', { message: 'The TagKey you have provided is invalid', fields: { TagKey: key } });
    }
    if ([...value].length > MAX_VALUE_CHARS || !TAG_TEXT.test(value)) {
      throw new S3Error('InvalidTag', { message: 'The TagValue you have provided is invalid', fields: { TagKey: key, TagValue: value } });
    }
    if (key.toLowerCase().startsWith('aws:')) {
      throw new S3Error('InvalidTag', { message: 'Your TagKey cannot be prefixed with aws:', fields: { TagKey: key } });
    }
    if (Object.hasOwn(tags, key)) throw new S3Error('InvalidTag', { message: 'Cannot provide multiple Tags with the same key', fields: { TagKey: key } });
    // Defined, not assigned: a tag named `__proto__` is a tag like any other, not the object's prototype.
    Object.defineProperty(tags, key, { value, enumerable: true, writable: true, configurable: true });
  }
  return tags;
}

/** The x-amz-tagging header (URL query form, `k1=v1&k2=v2`) as a validated tag set; empty when absent. */
export function parseTaggingHeader(value: string | undefined): Record<string, string> {
  if (value === undefined || value === '') return {};
  const entries = value.split('&').filter((part) => part !== '').map((part): [string, string] => {
    const eq = part.indexOf('=');
    return eq < 0 ? [decodeForm(part), ''] : [decodeForm(part.slice(0, eq)), decodeForm(part.slice(eq + 1))];
  });
  return validateTags(entries, MAX_OBJECT_TAGS);
}

/** A `<Tagging><TagSet><Tag>...` request document as a validated tag set. */
export function parseTaggingXml(text: string, maxTags: number): Record<string, string> {
  const root = requestDocumentRoot(text, 'Tagging');
  const tagSet = (root as { TagSet?: unknown }).TagSet;
  if (tagSet === undefined || (typeof tagSet !== 'object' && tagSet !== '')) throw new S3Error('MalformedXML');
  const raw = typeof tagSet === 'object' && tagSet !== null ? (tagSet as { Tag?: unknown }).Tag : undefined;
  const list = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
  const entries = list.map((entry): [string, string] => {
    const { Key: key, Value: value } = (entry ?? {}) as { Key?: unknown; Value?: unknown };
    if (typeof key !== 'string' || (value !== undefined && typeof value !== 'string')) throw new S3Error('MalformedXML');
    return [key, value ?? ''];
  });
  return validateTags(entries, maxTags);
}

/**
 * The `<TagSet>` body of a GetObjectTagging / GetBucketTagging answer, in key order (UTF-8 bytes): S3
 * keeps a tag set ordered by key, so `x-amz-tagging: foo=bar&bar=` comes back as bar, then foo (the
 * s3-tests suite's test_put_obj_with_tags). Stored order cannot serve: a JavaScript object puts keys
 * that look like array indices (`10`, `2`) first, in numeric order.
 */
export function tagSetBody(tags: Record<string, string>): Record<string, unknown> {
  const entries = Object.entries(tags).sort(([a], [b]) => compareUtf8(a, b));
  return { TagSet: { Tag: entries.map(([Key, Value]) => ({ Key, Value })) } };
}

/** The x-amz-tagging-count S3 sends with GET and HEAD when an object has tags. */
export function tagCount(tags: Record<string, string> | undefined): number {
  return tags === undefined ? 0 : Object.keys(tags).length;
}
