import Type, { type Static } from 'typebox';
import { VersionId, WireName } from './wire-fields.js';

/** One access key of a user: the id a request names and the secret that signs it. */
export const AccessKey = Type.Object({ accessKeyId: Type.String({ minLength: 1 }), secretAccessKey: Type.String({ minLength: 1 }), createdMs: Type.Number() });
/** One access key of a user. */
export type AccessKey = Static<typeof AccessKey>;

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
});
/** Names of the records that hold event targets rather than users. */
export const TARGET_RECORD_PREFIX = 'target:';

/** A user's record. */
export type UserRecord = Static<typeof UserRecord>;

/** Answer of GET /v1/users. */
export const UsersResponse = Type.Object({ users: Type.Array(UserRecord) });
/** Answer of GET /v1/users. */
export type UsersResponse = Static<typeof UsersResponse>;
