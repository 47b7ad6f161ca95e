import { writeQuorum, type ObjectRecord } from '../rpc/index.js';
import { BodyDigest } from './body-digest.js';
import type { ChecksumAlgorithm, ChecksumValue } from './checksums/index.js';
import type { VersionAttributes } from './object-attributes.js';
import { abortShards, commitShards, prepareShards, quorumError, type WriteTarget } from './object-writer.js';
import { decideQuorum, fanOut } from './quorum.js';
import { decodedBody } from './request-body.js';
import { header, metadataSignal, withTimeout, type RequestContext } from './request-context.js';
import { S3Error } from './s3-errors.js';

/** Largest single PUT (and copy source) S3 accepts; larger objects need multipart upload. */
export const MAX_PUT_BYTES = 5 * 1024 ** 3;

/** Options of a version write. */
export interface WriteVersionOptions {
  /** Checksum to compute and store when the client sends none (a multipart upload's algorithm). */
  checksumAlgorithm?: ChecksumAlgorithm | undefined;
  /**
   * Runs after the data is durable on a write quorum and before the version becomes visible: the
   * last moment to re-check a conditional write.
   */
  beforeCommit?: (() => Promise<void>) | undefined;
}

interface VerifiedBody {
  md5Hex: string;
  checksums: ChecksumValue[];
}

async function storeVersion(
  ctx: RequestContext,
  bucket: string,
  key: string,
  attributes: VersionAttributes,
  body: AsyncIterable<Uint8Array>,
  finish: (sizeBytes: number) => Promise<VerifiedBody>,
  options: WriteVersionOptions & { expectedSizeBytes?: number | undefined },
): Promise<ObjectRecord> {
  const { services } = ctx;
  const target: WriteTarget = {
    bucket,
    key,
    versionId: services.clock.next(),
    nodes: services.cluster.nodesFor(bucket, key),
    erasure: services.erasure,
    codec: services.codec,
  };
  const { sizeBytes, holders } = await prepareShards(target, body, {
    signal: ctx.signal,
    stallTimeoutMs: services.stallTimeoutMs,
    expectedSizeBytes: options.expectedSizeBytes,
    stripePool: services.stripePool,
  });
  let verified: VerifiedBody;
  try {
    verified = await finish(sizeBytes);
    await options.beforeCommit?.();
  } catch (err) {
    // A body that failed its last checks, or a condition that no longer holds: nothing may stay prepared.
    await abortShards(target, holders);
    throw err;
  }
  const { tags, ...rest } = attributes;
  const record: ObjectRecord = {
    bucket,
    key,
    versionId: target.versionId,
    deleted: false,
    sizeBytes,
    etag: `"${verified.md5Hex}"`,
    lastModifiedMs: services.clock.nowMs(),
    ...rest,
    ...(Object.keys(tags).length > 0 ? { tags } : {}),
    checksums: Object.fromEntries(verified.checksums.map((c) => [c.algorithm, c.base64])),
    erasure: services.erasure,
  };
  // Shards left prepared by a failed commit are garbage for the collector, like any aborted write.
  await commitShards(target, holders, record, withTimeout(undefined, services.metadataTimeoutMs));
  return record;
}

/**
 * Streams the verified request body into a new version of bucket/key and commits it on a write quorum.
 * Used for whole objects and for multipart parts (which live under an internal bucket).
 */
export async function writeBody(
  ctx: RequestContext,
  bucket: string,
  key: string,
  attributes: VersionAttributes,
  options: WriteVersionOptions = {},
): Promise<ObjectRecord> {
  const raw = ctx.auth.decodedContentLength ?? header(ctx, 'content-length');
  const declared = raw === undefined ? undefined : Number(raw);
  if (declared !== undefined && declared > MAX_PUT_BYTES) {
    throw new S3Error('EntityTooLarge', { fields: { MaxSizeAllowed: String(MAX_PUT_BYTES) } });
  }
  const { decoder, done } = decodedBody(ctx, options.checksumAlgorithm === undefined ? {} : { defaultChecksumAlgorithm: options.checksumAlgorithm });
  const record = await storeVersion(ctx, bucket, key, attributes, decoder, async (sizeBytes) => {
    await done;
    if (declared !== undefined && sizeBytes !== declared) throw new S3Error('IncompleteBody');
    return decoder.result();
  }, { ...options, expectedSizeBytes: declared });
  return record;
}

/**
 * Streams bytes that are already in the store (a copy source) into a new version, computing its MD5
 * and, when asked, a flexible checksum on the way: never more than a stripe is held.
 */
export async function writeStream(
  ctx: RequestContext,
  bucket: string,
  key: string,
  attributes: VersionAttributes,
  source: AsyncIterable<Uint8Array>,
  options: WriteVersionOptions = {},
): Promise<ObjectRecord> {
  const algorithm = options.checksumAlgorithm;
  const digest = new BodyDigest({ sha256: false, checksum: algorithm }, ctx.services.digestPool);
  async function* hashed(): AsyncGenerator<Uint8Array> {
    for await (const piece of source) {
      if (!digest.update(piece)) await digest.ready();
      yield piece;
    }
  }
  try {
    return await storeVersion(ctx, bucket, key, attributes, hashed(), async () => {
      const digests = await digest.digests();
      return {
        md5Hex: Buffer.from(digests.md5).toString('hex'),
        checksums: algorithm === undefined || digests.checksum === undefined ? [] : [{ algorithm, base64: Buffer.from(digests.checksum).toString('base64') }],
      };
    }, options);
  } finally {
    digest.abandon();
  }
}

/** The stored flexible checksums as response headers; an object (not a part) also names its x-amz-checksum-type. */
export function setChecksumHeaders(ctx: RequestContext, record: ObjectRecord, withType: boolean): void {
  const entries = Object.entries(record.checksums);
  for (const [algorithm, value] of entries) ctx.reply.header(`x-amz-checksum-${algorithm.toLowerCase()}`, value);
  if (withType && entries.length > 0) ctx.reply.header('x-amz-checksum-type', record.checksumType ?? 'FULL_OBJECT');
}

/**
 * Commits a record-only version (delete marker, multipart manifest, upload marker) on the key's nodes;
 * succeeds on a write quorum.
 */
export async function commitRecord(ctx: RequestContext, record: ObjectRecord): Promise<void> {
  const { services } = ctx;
  const nodes = services.cluster.nodesFor(record.bucket, record.key);
  const signal = metadataSignal(ctx);
  const outcomes = await fanOut(nodes, (node) => node.commit({ record, shardIndex: null }, { signal }));
  const decision = decideQuorum(outcomes, writeQuorum(services.erasure.dataShards, services.erasure.parityShards));
  if (!decision.met) throw quorumError('record write', decision.failures);
}

/** A delete marker for bucket/key: hides every older version; S3 answers 204 whether or not the key existed. */
export function deleteMarker(ctx: RequestContext, bucket: string, key: string): ObjectRecord {
  return {
    bucket,
    key,
    versionId: ctx.services.clock.next(),
    deleted: true,
    sizeBytes: 0,
    etag: '""',
    lastModifiedMs: ctx.services.clock.nowMs(),
    contentType: '',
    userMetadata: {},
    headers: {},
    checksums: {},
    erasure: ctx.services.erasure,
  };
}

/** Writes a delete marker to the key's nodes. */
export async function deleteKey(ctx: RequestContext, bucket: string, key: string): Promise<void> {
  await commitRecord(ctx, deleteMarker(ctx, bucket, key));
}
