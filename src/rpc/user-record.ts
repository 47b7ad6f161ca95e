import Type, { type Static } from 'typebox';
import { VersionId, WireName } from './wire-fields.js';

/** One access key of a user: the id a request names and the secret that signs it. */
export const AccessKey = Type.Object({
  accessKeyId: Type.String({ minLength: 1 }),
  secretAccessKey: Type.String({ minLength: 1 }),
  createdMs: Type.Number(),
  /** A disabled key signs nothing until enabled again; it stays listed, so it can be. */
  disabled: Type.Optional(Type.Boolean()),
});
/** One access key of a user. */
export type AccessKey = Static<typeof AccessKey>;

/**
 * A named SSE-KMS master key of the built-in key service: a random root of 32 bytes, sealed under a
 * cluster master key (the master key file's) like an SSE-S3 data key. Version N's key is derived from
 * the root, so rotation only counts up `versions`: two rotations racing agree on every version's key.
 */
export const KmsKeyMaterial = Type.Object({
  /** The root, sealed (base64), under master key `masterKeyId`. */
  sealedRoot: Type.String({ maxLength: 256 }),
  masterKeyId: Type.String({ maxLength: 64 }),
  /** How many versions the key has; new writes use the newest (this number), every older one still opens. */
  versions: Type.Integer({ minimum: 1, maximum: 1_000_000 }),
  /** A disabled key seals and opens nothing until enabled again. */
  disabled: Type.Boolean(),
  /** When the newest version was made (rotation time). */
  rotatedMs: Type.Number(),
});
/** A named SSE-KMS master key (see the schema). */
export type KmsKeyMaterial = Static<typeof KmsKeyMaterial>;
/** Names of the records that hold KMS keys rather than users. */
export const KMS_KEY_RECORD_PREFIX = 'kms:';

/**
 * A user's record (or a named identity policy's, see `policy`), kept on every node like a bucket record: the newest versionId per name wins, and
 * a removed user is a record with `deleted` set (so an older copy elsewhere cannot bring it back).
 */
export const UserRecord = Type.Object({
  name: WireName,
  versionId: VersionId,
  deleted: Type.Boolean(),
  /** The id ACLs and listings name the user by (64 hex digits, as S3's canonical user ids). */
  canonicalId: Type.String(),
  createdMs: Type.Number(),
  keys: Type.Array(AccessKey),
  /** Names of the identity policies attached to the user (`tessera admin policy attach`). */
  attached: Type.Optional(Type.Array(Type.String())),
  /**
   * Set on a named policy's record instead of a user's: its JSON document. Such records are named
   * `policy:NAME` (a name no user can have) and carry no keys.
   */
  policy: Type.Optional(Type.String()),
  /**
   * Set on an event target's record instead of a user's: its definition as JSON (docs/events.md). Such
   * records are named `target:NAME` (TARGET_RECORD_PREFIX) and carry no keys.
   */
  target: Type.Optional(Type.String({ maxLength: 128 * 1024 })),
  /** Set on a KMS key's record instead of a user's (named `kms:NAME`, KMS_KEY_RECORD_PREFIX); carries no access keys. */
  kms: Type.Optional(KmsKeyMaterial),
});
/** Names of the records that hold event targets rather than users. */
export const TARGET_RECORD_PREFIX = 'target:';

/** A user's record. */
export type UserRecord = Static<typeof UserRecord>;

/** Answer of GET /v1/users. */
export const UsersResponse = Type.Object({ users: Type.Array(UserRecord) });
/** Answer of GET /v1/users. */
export type UsersResponse = Static<typeof UsersResponse>;
