export { authenticate } from './authenticate.js';
export { createBodyDecoder, BodyDecoder } from './body-decoder.js';
export type { BodyDecodeResult, BodyDecoderOptions } from './body-decoder.js';
export type { BodyBudget } from './chunk-budget.js';
export { hasTrailer, isChunked } from './body-headers.js';
export { ChunkSigner, deriveSigningKey } from './signing.js';
export type { AuthenticateOptions, AuthRequest, AuthResult, CredentialStore, PayloadMode } from './types.js';
export { verifyPostSignature, type PostSignatureOptions, type PostSigner } from './post-signature.js';
export type { RegionRule } from './region-scope.js';
