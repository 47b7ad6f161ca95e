import Type, { type Static } from 'typebox';
import type { BucketRecord } from './bucket-record.js';
import { ObjectRecord, UPLOADS_BUCKET } from './object-record.js';
import { VersionId, WireName } from './wire-fields.js';

/*
 * The bucket index's messages (docs/bucket-index.md): index replicas hold, per key, what a listing
 * shows of each version, the intents of writes in flight, and the versions deleted by id.
 */

/** What a listing shows of one version: a projection of its record. */
export const IndexEntry = Type.Pick(ObjectRecord, ['versionId', 'deleted', 'sizeBytes', 'etag', 'lastModifiedMs', 'checksums', 'checksumType', 'owner', 'versioning', 'upload']);
/** What a listing shows of one version: a projection of its record. */
export type IndexEntry = Static<typeof IndexEntry>;

/**
 * Whether an entry is a null version: written while the bucket's versioning was never enabled or was
 * suspended. A null version replaces the key's older null versions when it commits (as the nodes do),
 * so an index row of an older null version is garbage once a newer one, or its deletion by id, is known.
 */
export function isNullEntry(entry: Pick<IndexEntry, 'versioning'>): boolean {
  return entry.versioning !== 'Enabled';
}

/** The entry of a committed record. */
export function indexEntryOf(record: ObjectRecord): IndexEntry {
  return {
    versionId: record.versionId,
    deleted: record.deleted,
    sizeBytes: record.sizeBytes,
    etag: record.etag,
    lastModifiedMs: record.lastModifiedMs,
    checksums: record.checksums,
    ...(record.checksumType === undefined ? {} : { checksumType: record.checksumType }),
    ...(record.owner === undefined ? {} : { owner: record.owner }),
    ...(record.versioning === undefined ? {} : { versioning: record.versioning }),
    // An upload's marker: what ListMultipartUploads shows of it (the user's key, initiation, checksum).
    ...(record.upload === undefined ? {} : { upload: record.upload }),
  };
}

/** Which index a row belongs to: a bucket's incarnation (its record's createdMs). */
const IndexScope = {
  bucket: WireName,
  incarnation: Type.Integer({ minimum: 0 }),
  key: WireName,
};

/** Intent ids are the ids of the writes they announce: a version id's shape. */
const IntentId = VersionId;

/**
 * An index change. `intent` announces a write of the key before it can commit (durable before the
 * answer); `settle` ends an intent (when it names one) and records what committed: `entry`, or
 * `gone`, a version deleted by id. `replaces` says the version was a null version (see isNullEntry),
 * which replaced the key's older null versions when it committed: with `entry`, the replica drops
 * their rows as it writes; with `gone`, its `g` row hides them from then on.
 */
/** An intent: a write of the key may commit until `expiresMs`. */
export const IndexIntent = Type.Object({ op: Type.Literal('intent'), ...IndexScope, id: IntentId, expiresMs: Type.Number() });
/** An intent: a write of the key may commit until `expiresMs`. */
export type IndexIntent = Static<typeof IndexIntent>;

/**
 * Forgets a closed upload (docs/bucket-index.md, "Multipart uploads"): the replica removes the entries
 * and `g` rows of the marker `key` up to version `through` (its closing marker), and those of every key
 * under `key/` (its parts). Intents stay: a write in flight is still decided from the key's nodes.
 */
export const IndexForget = Type.Object({ op: Type.Literal('forget'), ...IndexScope, through: VersionId });
/** Forgets a closed upload's rows. */
export type IndexForget = Static<typeof IndexForget>;

export const IndexOp = Type.Union([
  IndexIntent,
  IndexForget,
  Type.Object({
    op: Type.Literal('settle'),
    ...IndexScope,
    intent: Type.Optional(IntentId),
    entry: Type.Optional(IndexEntry),
    replaces: Type.Optional(Type.Boolean()),
    gone: Type.Optional(VersionId),
  }),
]);
/** An index change. */
export type IndexOp = Static<typeof IndexOp>;

/** Most changes in one request to a replica. */
export const MAX_INDEX_OPS = 1_000;

/** Body of POST /v1/index: changes applied in one batch, synced when it holds an intent. */
export const IndexApplyRequest = Type.Object({ ops: Type.Array(IndexOp, { minItems: 1, maxItems: MAX_INDEX_OPS }) });
/** Body of POST /v1/index. */
export type IndexApplyRequest = Static<typeof IndexApplyRequest>;

/**
 * One key of an index page as one replica holds it: its newest entry not deleted by id (absent when
 * the replica holds none), whether a write of it is in flight (`intent`), and the versions newer than
 * that entry the replica knows were deleted by id (another replica may still hold them). With a
 * delimiter, `rollup` names the common prefix the key stands for; the replica skipped its other keys.
 */
export const IndexRow = Type.Object({
  key: Type.String(),
  entry: Type.Optional(IndexEntry),
  intent: Type.Optional(Type.Literal(true)),
  /** Intents of writes past their deadline (some of them): once the key's nodes are read, they can be settled. */
  expired: Type.Optional(Type.Array(IntentId, { maxItems: 8 })),
  gone: Type.Optional(Type.Array(VersionId)),
  rollup: Type.Optional(Type.String({ minLength: 1 })),
});
/** One key of an index page as one replica holds it. */
export type IndexRow = Static<typeof IndexRow>;

/** Answer of GET /v1/index. */
export const IndexListResponse = Type.Object({
  rows: Type.Array(IndexRow),
  truncated: Type.Boolean(),
  /** Where the next page starts when it is not after the last row (the replica stopped reading before it). */
  resume: Type.Optional(Type.Object({ after: Type.String(), afterIsPrefix: Type.Boolean() })),
});
/** Answer of GET /v1/index. */
export type IndexListResponse = Static<typeof IndexListResponse>;

/**
 * One row of an index page in versions mode (IndexVersionListQuery), in order: key ascending, then the
 * key's rows of no version first, then by version newest first. A row with `entry` is a version this
 * replica lists; with `gone`, a version deleted by id, which no replica's copy may list, and in `hides`
 * the older versions it had replaced (the null ones, when its `g` row says it was a null version; see
 * KeyVersionSieve). A row of no version with `hides` says so of the versions before the page's start.
 * A row of no version with `intent` says the key is not to be trusted here: it is read from its own
 * nodes. With a delimiter, `rollup` names the common prefix the row's key stands for.
 */
export const IndexVersionRow = Type.Object({
  key: Type.String(),
  entry: Type.Optional(IndexEntry),
  gone: Type.Optional(VersionId),
  hides: Type.Optional(Type.Literal('olderNulls')),
  intent: Type.Optional(Type.Literal(true)),
  expired: Type.Optional(Type.Array(IntentId, { maxItems: 8 })),
  rollup: Type.Optional(Type.String({ minLength: 1 })),
});
/** One row of an index page in versions mode. */
export type IndexVersionRow = Static<typeof IndexVersionRow>;

/** Answer of GET /v1/index in versions mode; a truncated page always says where the next one starts. */
export const IndexVersionListResponse = Type.Object({
  rows: Type.Array(IndexVersionRow),
  truncated: Type.Boolean(),
  resume: Type.Optional(Type.Object({ after: Type.String(), afterIsPrefix: Type.Boolean(), afterVersion: Type.Optional(Type.String()) })),
});
/** Answer of GET /v1/index in versions mode. */
export type IndexVersionListResponse = Static<typeof IndexVersionListResponse>;

/**
 * The name an index shard is placed under: bucket plus this as the key. Object keys never hold U+0000
 * (nodes refuse them), so no object shares an index shard's partition key.
 */
export function indexShardKey(incarnation: number, shard: number): string {
  return `\u0000index\u0000${incarnation}\u0000${shard}`;
}

/** A bucket's index shards (BucketRecord.index): ids by the first key each holds, ascending from ''. */
export interface IndexShardMap {
  shards: readonly { id: number; from: string }[];
}

/** The id of the index shard holding `key`: the last whose first key is not after it, in UTF-8 byte order. */
export function indexShardFor(index: IndexShardMap, key: string): number {
  const keyBytes = Buffer.from(key, 'utf8');
  let shard = index.shards[0]?.id ?? 0;
  for (const candidate of index.shards) {
    if (Buffer.compare(Buffer.from(candidate.from, 'utf8'), keyBytes) > 0) break;
    shard = candidate.id;
  }
  return shard;
}

/** Which older versions of its key a version replaced when it was written (docs/bucket-index.md). */
export type VersionHides = 'olderNulls';

/**
 * What a version replaced of its key's older versions: a null version (written while the bucket never
 * had versioning or had it suspended), the older null versions, as the nodes drop them. Never a version
 * written under versioning: a null version written by a gateway that had not yet seen versioning
 * enabled leaves those on the nodes.
 */
export function versionHides(entry: Pick<IndexEntry, 'versioning'>): VersionHides | undefined {
  return isNullEntry(entry) ? 'olderNulls' : undefined;
}

/**
 * The rule a reader of a key's index rows applies to them newest first: each version (listed, hidden
 * or deleted by id) hides what it replaced of the older ones, whatever order their settles arrived in.
 */
export class KeyVersionSieve {
  private nulls = false;

  /** Takes what a version newer than every one still to come replaced. */
  note(hides: VersionHides | undefined): void {
    if (hides === 'olderNulls') this.nulls = true;
  }

  /** Whether a newer version replaced this one. */
  hides(entry: Pick<IndexEntry, 'versioning'>): boolean {
    return this.nulls && isNullEntry(entry);
  }

  /** What the versions noted so far hide of the older ones. */
  get state(): VersionHides | undefined {
    return this.nulls ? 'olderNulls' : undefined;
  }
}

/**
 * The name of the bucket record that decides whether rows of `bucket`/`key` are indexed, and where: the
 * bucket itself, or for a key of the internal uploads bucket the user bucket it starts with (upload
 * keys are `<bucket>/<uploadId>[/<part>]`); undefined for an uploads key naming no bucket.
 */
export function indexOwnerOf(bucket: string, key: string): string | undefined {
  if (bucket !== UPLOADS_BUCKET) return bucket;
  const at = key.indexOf('/');
  return at > 0 ? key.slice(0, at) : undefined;
}

/**
 * The index of a bucket's multipart uploads, seen as a bucket's: rows of the uploads bucket under the
 * user bucket's incarnation, in one shard placed under the uploads bucket's name. Undefined when the
 * bucket's uploads have no index. A bucket's uploads are its keys `<bucket>/...` of the uploads bucket,
 * so ListMultipartUploads and ListParts are prefix listings of this index.
 */
export function uploadsIndexOf(record: BucketRecord): BucketRecord | undefined {
  if (record.index?.uploads !== true) return undefined;
  return { ...record, name: UPLOADS_BUCKET, index: { shards: [{ id: 0, from: '' }], ...(record.index.building === true ? { building: true as const } : {}) } };
}

/**
 * The index a row of `bucket`/`key` belongs to, given the record of indexOwnerOf(bucket, key): the
 * record itself for a bucket's own key, its uploads index (uploadsIndexOf) for a key of the uploads
 * bucket; undefined when that index does not exist.
 */
export function indexOfRow(owner: BucketRecord | undefined, bucket: string): BucketRecord | undefined {
  if (owner === undefined || owner.deleted || owner.index === undefined) return undefined;
  return bucket === UPLOADS_BUCKET ? uploadsIndexOf(owner) : owner;
}
