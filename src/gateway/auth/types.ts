import type { RegionRule } from './region-scope.js';
import type { ChunkSigner } from './signing.js';

/** What authentication needs from an HTTP request; the gateway builds it from node's IncomingMessage. */
export interface AuthRequest {
  method: string;
  /** Request path exactly as received on the wire (percent-encoded), without the query. */
  rawPath: string;
  /** Raw query string without '?', '' if none. */
  rawQuery: string;
  /** Node's IncomingHttpHeaders: lower-case names, values latin1-decoded (one char per wire byte). */
  headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The bucket a virtual-hosted-style request names in its Host; SigV2 signs it as the path's first segment. */
  hostBucket?: string | undefined;
}

/** Looks up the secret key of an access key id; undefined when the key is unknown. */
export interface CredentialStore {
  secretKeyFor(accessKeyId: string): string | undefined;
}

/** How the body is framed and protected, as declared by `x-amz-content-sha256` (or a presigned URL). */
export type PayloadMode = 'sha256' | 'unsigned' | 'streaming-signed' | 'streaming-signed-trailer' | 'streaming-unsigned-trailer';

/** A verified request's identity plus everything the body decoder needs to keep verifying the body. */
export interface AuthResult {
  /** The signing key; '' for an anonymous request. */
  accessKeyId: string;
  /** True when the request carries no signature at all (no Authorization, no presigned query). */
  anonymous: boolean;
  presigned: boolean;
  payloadMode: PayloadMode;
  /** `x-amz-decoded-content-length`: the object size in aws-chunked modes; undefined when absent. */
  decodedContentLength: number | undefined;
  /** Lower-case hex SHA-256 the body must hash to ('sha256' mode only). */
  payloadSha256: string | undefined;
  /** Region named in the credential scope (one AuthenticateOptions.regions accepts). */
  region: string;
  /** Lower-case header names covered by the signature. */
  signedHeaders: readonly string[];
  /** The request signature: the seed of the chunk-signature chain. */
  signature: string;
  /** Signs chunks and trailers with this request's key, date and scope. */
  chunkSigner: ChunkSigner;
}

/** Options for `authenticate`. */
export interface AuthenticateOptions {
  /** Server time, injected so tests need no real clock. */
  nowMs: number;
  /** Allowed clock difference for header auth (and for presigned URLs dated in the future); default 15 minutes. */
  maxSkewMs?: number;
  /** The SigV4 scope regions accepted; absent: any (the gateway always passes its own). */
  regions?: RegionRule | undefined;
  /** False refuses Signature Version 2 (header and presigned) as S3's V4-only regions do; default true. */
  signatureV2?: boolean | undefined;
}
