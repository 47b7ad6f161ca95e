export { TesseraError, hasCode } from './errors.js';
export { HybridClock, formatVersionId, isVersionId, parseVersionId } from './hybrid-clock.js';
export { newRequestId, randomHex } from './ids.js';
export { createRootLogger, silentLogger, REDACTED_PATHS } from './logger.js';
export type { Logger } from './logger.js';
export { ConfigError, DEFAULTS, parseGatewayConfig, parseListen, parseNodeConfig } from './config.js';
export type { ClusterNodeConfig, ErasureConfig, GatewayConfig, KernelChoice, ListenAddress, NodeConfig, S3Credential } from './config.js';
