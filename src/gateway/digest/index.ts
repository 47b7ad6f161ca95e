// Hashing of request bodies (MD5, SHA-256, a flexible checksum) as they stream past: small ones on the
// request thread, large ones in worker threads (digest-worker.ts is the thread's entry point).
export { BodyDigest, INLINE_DIGEST_MAX_BYTES } from './body-digest.js';
export type { BodyDigests, DigestSpec } from './digest-hashers.js';
export { DigestPool, DigestStream, DigestWorkerError } from './digest-pool.js';
