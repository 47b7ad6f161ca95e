export { TesseraError, hasCode } from './errors.js';
export { SchemaCheck } from './schema-check.js';
export { HybridClock, VERSION_ID_PATTERN, compareVersionIds, formatVersionId, isVersionId, parseVersionId } from './hybrid-clock.js';
export { newRequestId, newToken, randomHex } from './ids.js';
export { TurnQueue, type TurnQueueLimits } from './turn-queue.js';
export { applyHeapGrowth } from './heap-tuning.js';
export { createRootLogger, silentLogger, REDACTED_PATHS } from './logger.js';
export type { Logger } from './logger.js';
export {
  CREDENTIAL_ENV,
  ConfigError,
  DEFAULTS,
  DEFAULT_HEALING,
  GATEWAY_ENV,
  NODE_ENV,
  checkEnvNames,
  checkGcAges,
  knownEnvVars,
  parseGatewayConfig,
  parseListen,
  parseNodeConfig,
  redactConfig,
} from './config.js';
export type {
  AesBackendChoice,
  ClusterNodeConfig,
  ErasureConfig,
  GatewayConfig,
  KernelChoice,
  ListenAddress,
  LogFormat,
  LogLevel,
  NodeConfig,
  NodeHealingConfig,
  S3Credential,
  TlsConfig,
} from './config.js';
export type { ConfigInput, Env } from './config-reader.js';
export { GatewaySettings, NodeSettings } from './config-schema.js';
export { settingsOf, type SettingNode } from './setting.js';
export type { AuthConfig } from './auth-settings.js';
export { PROMETHEUS_CONTENT_TYPE, bearerAllowed } from './bearer-token.js';
export { SecretFileError, readSecretFile, readSecretFileSync, secretFileProblem, writeSecretFile } from './secret-file.js';
export { assembleModule, Code, ValType, type WasmFunction } from './wasm-assembler.js';
export { wasmEngine, wasmValidates, type WasmEngine, type WasmMemory } from './wasm-engine.js';
