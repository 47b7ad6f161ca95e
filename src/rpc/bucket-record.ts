import Type, { type Static } from 'typebox';
import { LifecycleRule } from './lifecycle-rules.js';
import { ReplicationConfiguration } from './replication-rules.js';
import { Grant, Strings, VersionId, WireName } from './wire-fields.js';

/** One CORS rule of a bucket, as S3's CORSRule. */
export const CorsRule = Type.Object({
  id: Type.Optional(Type.String()),
  allowedOrigins: Type.Array(Type.String()),
  allowedMethods: Type.Array(Type.String()),
  allowedHeaders: Type.Array(Type.String()),
  exposeHeaders: Type.Array(Type.String()),
  maxAgeSeconds: Type.Optional(Type.Number()),
});
/** One CORS rule of a bucket. */
export type CorsRule = Static<typeof CorsRule>;

/**
 * One configuration of a bucket's notification configuration (S3's QueueConfiguration or
 * TopicConfiguration): which events, on which keys, go to which event target.
 */
export const NotificationRule = Type.Object({
  id: Type.String(),
  /** Which element it was given as, so GetBucketNotificationConfiguration answers it the same way. */
  kind: Type.Union([Type.Literal('Queue'), Type.Literal('Topic')]),
  /** The target's ARN, as the configuration named it. */
  arn: Type.String(),
  /** S3 event names (`s3:ObjectCreated:*`, `s3:ObjectRemoved:Delete`, ...). */
  events: Type.Array(Type.String(), { minItems: 1 }),
  prefix: Type.Optional(Type.String()),
  suffix: Type.Optional(Type.String()),
});
/** One notification configuration of a bucket. */
export type NotificationRule = Static<typeof NotificationRule>;

/** A bucket's hard quota: most logical bytes and most stored object versions (docs/quotas.md). */
export const BucketQuota = Type.Object({
  maxBytes: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })),
  maxObjects: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })),
});
/** A bucket's hard quota. */
export type BucketQuota = Static<typeof BucketQuota>;

/** What a node holds of one bucket: the object versions it keeps (delete markers not counted) and their logical bytes. */
export const BucketUsage = Type.Object({
  objects: Type.Integer({ minimum: 0 }),
  bytes: Type.Integer({ minimum: 0 }),
});
/** What a node holds of one bucket. */
export type BucketUsage = Static<typeof BucketUsage>;

/** Answer of GET /v1/usage: a node's counts, of one bucket (`?bucket=`) or of every bucket it holds anything of. */
export const BucketUsageResponse = Type.Object({
  buckets: Type.Array(Type.Object({ name: Type.String(), objects: Type.Integer({ minimum: 0 }), bytes: Type.Integer({ minimum: 0 }) })),
});
/** Answer of GET /v1/usage. */
export type BucketUsageResponse = Static<typeof BucketUsageResponse>;

/**
 * A bucket's server access logging (PutBucketLogging, docs/access-logs.md): where its requests' log
 * objects go. `partitioned`: S3's PartitionedPrefix key format (its PartitionDateSource when given);
 * absent: the simple format, `simplePrefix` saying whether the document named SimplePrefix.
 */
export const BucketLogging = Type.Object({
  targetBucket: Type.String({ minLength: 1, maxLength: 255 }),
  targetPrefix: Type.String({ maxLength: 512 }),
  simplePrefix: Type.Optional(Type.Literal(true)),
  partitioned: Type.Optional(Type.Object({ dateSource: Type.Optional(Type.Union([Type.Literal('EventTime'), Type.Literal('DeliveryTime')])) })),
});
/** A bucket's server access logging. */
export type BucketLogging = Static<typeof BucketLogging>;

/** A bucket's record, kept on every node; the newest versionId per name wins. */
export const BucketRecord = Type.Object({
  name: WireName,
  versionId: VersionId,
  createdMs: Type.Number(),
  deleted: Type.Boolean(),
  /**
   * Set while DeleteBucket checks the bucket is empty: nodes refuse to commit new versions into it.
   * The delete then writes the tombstone, or (the bucket was not empty) the record without this flag.
   */
  closing: Type.Optional(Type.Boolean()),
  /** The bucket's CORS rules (PutBucketCors); absent when none are configured. */
  cors: Type.Optional(Type.Array(CorsRule)),
  /** The bucket's tags (PutBucketTagging); absent when none are set. */
  tags: Type.Optional(Strings),
  /** PutBucketVersioning's state; absent while versioning was never enabled (a bucket never returns to that). */
  versioning: Type.Optional(Type.Union([Type.Literal('Enabled'), Type.Literal('Suspended')])),
  /** The bucket's default encryption (PutBucketEncryption): writes without SSE headers are sealed with SSE-S3 or SSE-KMS. */
  encryption: Type.Optional(Type.Union([Type.Literal('AES256'), Type.Literal('aws:kms')])),
  /** With `aws:kms`: the KMS key name of the default (KMSMasterKeyID); absent: the default key. */
  kmsKeyName: Type.Optional(Type.String({ maxLength: 256 })),
  /** The default's BucketKeyEnabled, echoed on writes that take the default. */
  bucketKeyEnabled: Type.Optional(Type.Boolean()),
  /** Canonical id of the user who created the bucket; absent: the cluster owner (the configured credentials). */
  owner: Type.Optional(Type.String()),
  /** The bucket's ACL grants; absent: private (the owner's FULL_CONTROL only). */
  grants: Type.Optional(Type.Array(Grant)),
  /** S3's object ownership: ObjectWriter, BucketOwnerPreferred or BucketOwnerEnforced (ACLs off); absent: ObjectWriter. */
  ownership: Type.Optional(Type.String()),
  /** The bucket policy (PutBucketPolicy) as the JSON text it was given; absent: none. */
  policy: Type.Optional(Type.String()),
  /**
   * Object Lock (CreateBucket with x-amz-bucket-object-lock-enabled, PutObjectLockConfiguration): once
   * present the bucket keeps versioning Enabled for good; `defaultRetention` applies to new versions.
   */
  objectLock: Type.Optional(
    Type.Object({
      defaultRetention: Type.Optional(
        Type.Object({
          mode: Type.Union([Type.Literal('GOVERNANCE'), Type.Literal('COMPLIANCE')]),
          days: Type.Optional(Type.Integer({ minimum: 1 })),
          years: Type.Optional(Type.Integer({ minimum: 1 })),
        }),
      ),
    }),
  ),
  /** S3's PublicAccessBlock switches (PutPublicAccessBlock); absent: none configured. */
  publicAccessBlock: Type.Optional(
    Type.Object({ blockPublicAcls: Type.Boolean(), ignorePublicAcls: Type.Boolean(), blockPublicPolicy: Type.Boolean(), restrictPublicBuckets: Type.Boolean() }),
  ),
  /**
   * The bucket's hard quota (docs/quotas.md), set with `tessera admin bucket quota`: a write that would
   * take the bucket past either limit is refused. Absent, or a limit absent: no limit.
   */
  quota: Type.Optional(BucketQuota),
  /** The bucket's lifecycle rules (PutBucketLifecycleConfiguration); absent: none. */
  lifecycle: Type.Optional(Type.Array(LifecycleRule)),
  /** The bucket's notification configurations (PutBucketNotificationConfiguration); absent: none. */
  notification: Type.Optional(Type.Array(NotificationRule)),
  /** The bucket's server access logging (PutBucketLogging); absent: off. */
  logging: Type.Optional(BucketLogging),
  /** The bucket's replication configuration (PutBucketReplication); absent: none. Only on a bucket whose versioning is Enabled. */
  replication: Type.Optional(ReplicationConfiguration),
  /**
   * The bucket's index (docs/bucket-index.md): its shards by the first key each holds, ascending from
   * ''. Present when every version written since the bucket's creation is in it; absent on buckets
   * created before the index existed, which are listed from their keys' nodes. `uploads`: the bucket's
   * multipart uploads (its keys of the internal uploads bucket) have an index too (uploadsIndexOf).
   * `building`: an index build is under way (docs/bucket-index.md#building-an-index): every write
   * goes to the index, but listings still read the keys' nodes until the build has walked them all.
   */
  index: Type.Optional(
    Type.Object({
      shards: Type.Array(Type.Object({ id: Type.Integer({ minimum: 0 }), from: Type.String() }), { minItems: 1, maxItems: 65_536 }),
      uploads: Type.Optional(Type.Literal(true)),
      building: Type.Optional(Type.Literal(true)),
      /** The split under way, at most one per bucket (IndexSplit in index-split.ts). */
      split: Type.Optional(
        Type.Object({
          /** The shard being split, and the new shard: keys from `from` up to the parent's end move to it. */
          parent: Type.Integer({ minimum: 0 }),
          id: Type.Integer({ minimum: 0 }),
          from: Type.String({ minLength: 1 }),
          stage: Type.Union([Type.Literal('copying'), Type.Literal('published'), Type.Literal('retiring')]),
          /** When the stage was recorded (the leading node's clock): each stage waits out gateways' bucket caches. */
          sinceMs: Type.Number(),
        }),
      ),
    }),
  ),
});
/** A bucket's record. */
export type BucketRecord = Static<typeof BucketRecord>;

/** Answer of GET /v1/buckets. */
export const BucketsResponse = Type.Object({ buckets: Type.Array(BucketRecord) });
/** Answer of GET /v1/buckets. */
export type BucketsResponse = Static<typeof BucketsResponse>;
