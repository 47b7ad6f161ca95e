export { TesseraError, hasCode } from './errors.js';
export { HybridClock, formatVersionId, isVersionId, parseVersionId } from './hybrid-clock.js';
export { newRequestId, randomHex } from './ids.js';
export { createRootLogger, silentLogger, REDACTED_PATHS } from './logger.js';
export type { Logger } from './logger.js';
