import Type, { type Static } from 'typebox';
import { VERSION_ID_PATTERN } from '../common/index.js';

/** The fields the node protocol's messages share (protocol.ts): names, version ids, shard positions. */

/**
 * A bucket name or key as the wire carries it: non-empty and without NUL, which separates the parts of
 * a node's LevelDB keys (a name holding one could reach into another bucket's rows).
 */
export const WireName = Type.String({ minLength: 1, pattern: '^[^\\u0000]*$' });

/** A version id (hybrid-clock time and writer, 24 hex digits). */
export const VersionId = Type.String({ pattern: VERSION_ID_PATTERN });

/** Index of a shard within its stripe (k + m <= 256). */
export const ShardIndex = Type.Integer({ minimum: 0, maximum: 255 });

/** String to string (user metadata, tags). */
export const Strings = Type.Record(Type.String(), Type.String());
/** How a full-object checksum was combined: of the parts' checksums, or over the whole body. */
export const ChecksumType = Type.Union([Type.Literal('COMPOSITE'), Type.Literal('FULL_OBJECT')]);
/** A count or size: an integer from 0. */
export const Count = Type.Integer({ minimum: 0 });

/** One ACL grant: a canonical user id or an S3 group URI, and a permission (READ, WRITE, READ_ACP, WRITE_ACP, FULL_CONTROL). */
export const Grant = Type.Object({ grantee: Type.String(), permission: Type.String() });

/** Reed-Solomon parameters an object was written with. */
export const ErasureParams = Type.Object({
  dataShards: Type.Integer({ minimum: 1, maximum: 256 }),
  parityShards: Type.Integer({ minimum: 0, maximum: 255 }),
  /** Bytes of one shard's block in a full stripe; a stripe holds dataShards × blockSizeBytes of the body. */
  blockSizeBytes: Type.Integer({ minimum: 1, maximum: 2 ** 31 }),
});
/** Reed-Solomon parameters an object was written with. */
export type ErasureParams = Static<typeof ErasureParams>;

/**
 * Identifies one shard of one object version. `dataId` is the id the version's shards were written
 * under when it differs from the version id (see ObjectRecord.dataId); absent, they are the same.
 */
export const ShardRef = Type.Object({ bucket: WireName, key: WireName, versionId: VersionId, shardIndex: ShardIndex, dataId: Type.Optional(VersionId) });
/** Identifies one shard of one object version. */
export type ShardRef = Static<typeof ShardRef>;
