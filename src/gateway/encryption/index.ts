// Server-side encryption: the package format (AES-256-GCM in 64 KiB packages, on the native addon or
// node:crypto), data keys sealed under master or customer keys, and the SSE request headers. No I/O but
// loading the addon and reading the master key file: the data path streams through it.
export { KeyUnsealError, customerKeyDigest, customerKeyMatches, sealDataKey, unsealDataKey } from './key-sealing.js';
export {
  DEFAULT_KMS_KEY,
  KMS_ACCOUNT,
  KMS_KEY_NAME,
  encryptionContextHeader,
  kmsKeyArn,
  kmsSealContext,
  kmsVersionKey,
  newKmsKeyMaterial,
  parseEncryptionContext,
  parseKmsKeyId,
  resealKmsKeyMaterial,
} from './kms-keys.js';
export { MasterKeyFileError, MasterKeyring, masterKeyLine, readMasterKeyFile, type MasterKey } from './master-keys.js';
export { NATIVE_ADDON_PATH, loadNativePackageCipher } from './native-package-cipher.js';
export { ObjectSealer, sseResponseHeaders, type BodyEncryption, type KmsKeyLookup, type PlainRange } from './object-sealer.js';
export {
  AesBackendUnavailableError,
  availablePackageCiphers,
  resolvePackageCipher,
  type AesBackendChoice,
  type ResolvedPackageCipher,
} from './package-cipher-choice.js';
export { nodePackageCipher, type AesBackend, type PackageCipher, type PackageKeyCipher, type PackageOpen, type PackageSeal } from './package-cipher.js';
export {
  DATA_KEY_BYTES,
  OBJECT_NONCE_BYTES,
  PACKAGE_PLAIN_BYTES,
  PACKAGE_STORED_BYTES,
  PACKAGE_TAG_BYTES,
  PackageAuthError,
  PackageEncryptor,
  decryptRange,
  openPackage,
  packageCount,
  packageKey,
  plainSize,
  sealPackage,
  storedRange,
  storedSize,
  type DecryptRangeOptions,
  type StoredRange,
} from './package-format.js';
export {
  BUCKET_KEY_HEADER,
  COPY_SOURCE_SSE_C_PREFIX,
  KMS_CONTEXT_HEADER,
  KMS_KEY_ID_HEADER,
  SSE_C_PREFIX,
  SSE_HEADER,
  parseCustomerKey,
  parseReadSse,
  parseSseS3,
  parseWriteSse,
  type HeaderReader,
  type KeyTransport,
  type KmsRequest,
  type SseRequest,
} from './sse-request.js';
