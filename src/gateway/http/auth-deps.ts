import type { HybridClock } from '../../common/index.js';
import type { BucketRecords, UserDirectory } from '../data-path/index.js';

/** The signature settings: the region, the other SigV4 scope regions accepted (`*`: any) and whether SigV2 is (the `auth` settings). */
export interface SignatureSettings {
  region: string;
  auth: { acceptedRegions: readonly string[]; signatureV2: boolean };
}

/** Authorization (authorize.ts): the bucket's ACLs and policies, the users' own policies, and the clock policy conditions read. */
export interface AccessDeps extends BucketRecords {
  /** The cluster's users and access keys, followed from the nodes. */
  users: UserDirectory;
  clock: HybridClock;
  /** Canonical id of the administrator (the configured credentials' owner); owner of buckets that name none. */
  ownerId: string;
}

/** Authentication and authorization: who signed, with what key, and what they may do. */
export interface AuthDeps extends SignatureSettings, AccessDeps {}
