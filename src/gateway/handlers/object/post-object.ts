import type { ObjectRecord } from '../../../rpc/index.js';
import { PendingVersion, type EncryptionDeps, type VerifiedBody, type WritePathDeps } from '../../data-path/index.js';
import { CHECKSUM_ALGORITHMS, checksumHeaderName, isValidChecksumValue, type ChecksumAlgorithm } from '../../s3/checksums/index.js';
import { authorizePostForm, bucketOf, decodedBody, header, type AuthDeps, type RequestContext } from '../../http/index.js';
import { setWrittenVersionHeader } from '../shared/current-version.js';
import { checkQuota } from '../shared/bucket-quota.js';
import { checkPostPolicy, MAX_OBJECT_TAGS, parsePostPolicy, parseTaggingXml, renderXml, S3Error, validateKey, type SizeRange } from '../../s3/index.js';
import { attributesOf } from '../shared/object-attributes.js';
import { setSseHeaders, writeSseOf } from '../shared/object-encryption.js';
import { readPostForm, type FormHead } from './post-form.js';
import { objectAclFields } from '../shared/request-acl.js';
import { MAX_PUT_BYTES, storedBody, type IncomingBody } from '../shared/upload-body.js';
import { changeOf } from '../shared/change-origin.js';

/** Form fields that sign the form: they are not object attributes. */
const SIGNING_FIELDS = new Set(['x-amz-algorithm', 'x-amz-credential', 'x-amz-date', 'x-amz-signature', 'x-amz-security-token']);
/** Form fields that become the object's attributes, under the header name a PUT would use. */
const ATTRIBUTE_FIELDS: Record<string, string> = {
  'content-type': 'content-type',
  'cache-control': 'cache-control',
  'content-disposition': 'content-disposition',
  'content-encoding': 'content-encoding',
  expires: 'expires',
  acl: 'x-amz-acl',
};

/**
 * POST Object: a browser upload. The form's fields before the file carry the key, the object's
 * attributes and (signed forms) a policy document with its signature; the policy's conditions are
 * checked, the signer is authorised as for PutObject, and only then the file part streams into the
 * same write path as a PUT. The answer follows `success_action_redirect` (303) or
 * `success_action_status` (200, 201 with a PostResponse document, else 204).
 */
export async function postObject(ctx: RequestContext<WritePathDeps & EncryptionDeps & AuthDeps>): Promise<void> {
  const bucket = bucketOf(ctx);
  const contentType = header(ctx, 'content-type') ?? '';
  if (!/^multipart\/form-data\s*;/i.test(contentType)) {
    throw new S3Error('PreconditionFailed', {
      message: 'Bucket POST must be of the enclosure-type multipart/form-data',
      fields: { Condition: 'Bucket POST must be of the enclosure-type-multipart/form-data' },
    });
  }
  // The form is not checked yet: the sender is whoever the request says (anonymous, for a form).
  const bucketRecord = await ctx.services.buckets.require(bucket, ctx.signal, { anonymous: ctx.access.principal.kind === 'anonymous' });
  const { decoder, done: bodyDone } = decodedBody(ctx);
  const form = readPostForm(decoder, contentType);
  const formHead = await form.head;
  const fields = withFilename(formHead);
  const key = objectKeyOf(fields);
  let range: SizeRange = { minBytes: 0, maxBytes: undefined };
  const writeCtx = await authorizePostForm(ctx, fields, key, formHeaders(fields, ctx), () => {
    range = policyRange(fields, bucket, ctx.services.clock.nowMs());
  });
  const attributes = attributesOf(writeCtx);
  Object.assign(attributes, objectAclFields(writeCtx, bucketRecord));
  const sse = await writeSseOf(writeCtx, bucketRecord);
  const file = sizedFile(formHead.file, range);
  const expected = formDigests(fields);
  const encryption = ctx.services.sealer.forBody(sse);
  // Hashed in the digest pool on its way to the shards, like any streamed write.
  const incoming = storedBody(writeCtx, file.pieces, expected.checksum?.algorithm);
  let record: ObjectRecord;
  try {
    // The file's size is known once it is received; a bucket already at its quota refuses at once.
    await checkQuota(writeCtx, bucketRecord, { objects: 1, bytes: range.minBytes });
    const pending = await PendingVersion.receive(writeCtx, bucket, key, incoming.body, { encryption });
    const verified = await pending.guard(verifiedFile(incoming, pending.sizeBytes, expected));
    await pending.guard(checkQuota(writeCtx, bucketRecord, { objects: 1, bytes: pending.sizeBytes }, { reserve: true }));
    await pending.holdKey();
    // The whole body must be well-formed (and match any hash its headers declare) before the object is visible.
    await pending.guard(wholeForm(Promise.all([form.done, bodyDone]), file, range));
    record = await pending.commit(attributes, verified, changeOf(writeCtx, bucketRecord, 's3:ObjectCreated:Post', key, { tags: attributes.tags }));
  } finally {
    incoming.close();
  }
  setSseHeaders(writeCtx, record.encryption, sse, true);
  setWrittenVersionHeader(ctx, record);
  const location = objectLocation(ctx, bucket, key);
  ctx.reply.header('etag', record.etag).header('location', location);
  const redirect = redirectTarget(fields.get('success_action_redirect') ?? fields.get('redirect'), bucket, key, record.etag);
  if (redirect !== undefined) {
    await ctx.reply.status(303).header('location', redirect).send();
    return;
  }
  const status = fields.get('success_action_status');
  if (status === '201') {
    const body = renderXml('PostResponse', { Location: location, Bucket: bucket, Key: key, ETag: record.etag }, { namespace: false });
    await ctx.reply.status(201).type('application/xml').send(body);
    return;
  }
  await ctx.reply.status(status === '200' ? 200 : 204).send();
}

/**
 * The form's fields with `${filename}` replaced by the file's name (its last path segment, '' when it
 * has none), in every field, as S3 does it before checking them against the policy: a key
 * `uploads/${filename}` meets `["starts-with", "$key", "uploads/"]` as the key it becomes.
 */
function withFilename(head: FormHead): Map<string, string> {
  const fields = new Map<string, string>();
  for (const [name, value] of head.fields) fields.set(name, value.split('${filename}').join(head.filename));
  return fields;
}

/** What the form says the file's digests are: its Content-MD5 field and at most one x-amz-checksum-* field. */
interface FormDigests {
  contentMd5: string | undefined;
  checksum: { algorithm: ChecksumAlgorithm; base64: string } | undefined;
}

/**
 * The form's Content-MD5 and x-amz-checksum-* fields, validated as a PUT's headers are: S3 checks the
 * file against them and stores nothing when they differ.
 */
function formDigests(fields: ReadonlyMap<string, string>): FormDigests {
  const md5 = fields.get('content-md5')?.trim();
  const md5Bytes = md5 === undefined ? undefined : Buffer.from(md5, 'base64');
  if (md5Bytes !== undefined && (md5Bytes.length !== 16 || md5Bytes.toString('base64') !== md5)) throw new S3Error('InvalidDigest');
  const sent = CHECKSUM_ALGORITHMS.flatMap((algorithm) => {
    const value = fields.get(checksumHeaderName(algorithm))?.trim();
    return value === undefined ? [] : [{ algorithm, base64: value }];
  });
  if (sent.length > 1) throw new S3Error('InvalidRequest', { message: 'Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.' });
  const checksum = sent[0];
  if (checksum !== undefined && !isValidChecksumValue(checksum.algorithm, checksum.base64)) {
    throw new S3Error('InvalidRequest', { message: `Value for ${checksumHeaderName(checksum.algorithm)} header is invalid.` });
  }
  return { contentMd5: md5, checksum };
}

/** The file's digests once it was stored to its end; BadDigest when they are not what the form says. */
async function verifiedFile(incoming: IncomingBody, sizeBytes: number, expected: FormDigests): Promise<VerifiedBody> {
  const verified = await incoming.verify(sizeBytes);
  checkFormDigests(expected, verified);
  return verified;
}

/** Waits for the rest of the form (fields after the file, the body's own checks); EntityTooSmall for a file below the policy's range. */
async function wholeForm(done: Promise<unknown>, file: { readonly bytes: number }, range: SizeRange): Promise<void> {
  await done;
  if (file.bytes < range.minBytes) {
    throw new S3Error('EntityTooSmall', { fields: { ProposedSize: String(file.bytes), MinSizeAllowed: String(range.minBytes) } });
  }
}

/** BadDigest, before the object is visible, when the file is not what the form's digests say. */
function checkFormDigests(expected: FormDigests, body: VerifiedBody): void {
  const md5 = Buffer.from(body.md5Hex, 'hex').toString('base64');
  if (expected.contentMd5 !== undefined && expected.contentMd5 !== md5) {
    throw new S3Error('BadDigest', { fields: { ExpectedDigest: expected.contentMd5, CalculatedDigest: md5 } });
  }
  const { checksum } = expected;
  if (checksum !== undefined && !body.checksums.some((c) => c.algorithm === checksum.algorithm && c.base64 === checksum.base64)) {
    throw new S3Error('BadDigest', { message: `The ${checksum.algorithm} you specified did not match the calculated checksum.` });
  }
}

/** The form's key; InvalidArgument when there is none. */
function objectKeyOf(fields: ReadonlyMap<string, string>): string {
  const key = fields.get('key');
  if (key === undefined) {
    throw new S3Error('InvalidArgument', {
      message: "Bucket POST must contain a field named 'key'.  If it is specified, please check the order of the fields.",
      fields: { ArgumentName: 'key', ArgumentValue: '' },
    });
  }
  if (key === '') throw new S3Error('InvalidArgument', { message: 'User key must have a length greater than 0.', fields: { ArgumentName: 'key', ArgumentValue: '' } });
  validateKey(key);
  return key;
}

/** The file sizes allowed: the signed policy's conditions checked, or no policy (an anonymous form). */
function policyRange(fields: ReadonlyMap<string, string>, bucket: string, nowMs: number): SizeRange {
  const encoded = fields.get('policy');
  if (encoded === undefined) return { minBytes: 0, maxBytes: undefined };
  return checkPostPolicy(parsePostPolicy(encoded), fields, bucket, nowMs);
}

/**
 * The form's fields as the headers of the PUT they stand for: attributes under their header names,
 * x-amz-* (metadata, encryption, ...) as they are, `tagging` (a Tagging document) as x-amz-tagging.
 */
function formHeaders(fields: ReadonlyMap<string, string>, ctx: RequestContext<unknown>): Record<string, string> {
  const headers: Record<string, string> = {};
  const host = header(ctx, 'host');
  if (host !== undefined) headers.host = host;
  for (const [name, value] of fields) {
    const mapped = ATTRIBUTE_FIELDS[name];
    if (mapped !== undefined) headers[mapped] = value;
    else if (name.startsWith('x-amz-') && !SIGNING_FIELDS.has(name)) headers[name] = value;
  }
  const tagging = fields.get('tagging');
  if (tagging !== undefined) {
    const tags = parseTaggingXml(tagging, MAX_OBJECT_TAGS);
    headers['x-amz-tagging'] = new URLSearchParams(Object.entries(tags)).toString();
  }
  return headers;
}

/** The file part, counted on its way to the shards (`bytes` so far); EntityTooLarge as soon as it passes the limit. */
function sizedFile(file: AsyncIterable<Buffer>, range: SizeRange): { pieces: AsyncGenerator<Uint8Array>; readonly bytes: number } {
  const maxBytes = Math.min(range.maxBytes ?? MAX_PUT_BYTES, MAX_PUT_BYTES);
  const counted = { bytes: 0, pieces: pieces() };
  async function* pieces(): AsyncGenerator<Uint8Array> {
    for await (const data of file) {
      counted.bytes += data.length;
      if (counted.bytes > maxBytes) throw new S3Error('EntityTooLarge', { fields: { MaxSizeAllowed: String(maxBytes) } });
      yield data;
    }
  }
  return counted;
}

/** The new object's URL, in the addressing style the request used. */
function objectLocation(ctx: RequestContext<unknown>, bucket: string, key: string): string {
  const pathStyle = !ctx.target.virtualHosted;
  const path = `${pathStyle ? `/${encodeURIComponent(bucket)}` : ''}/${encodeURIComponent(key).replace(/%2F/g, '/')}`;
  return `${ctx.request.protocol}://${header(ctx, 'host') ?? 'localhost'}${path}`;
}

/** `success_action_redirect` with bucket, key and etag added to its query; undefined when absent or not a URL. */
function redirectTarget(value: string | undefined, bucket: string, key: string, etag: string): string | undefined {
  if (value === undefined || value === '') return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
  url.searchParams.append('bucket', bucket);
  url.searchParams.append('key', key);
  url.searchParams.append('etag', etag);
  return url.toString();
}
