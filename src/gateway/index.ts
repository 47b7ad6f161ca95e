export { Gateway, ringFromConfig } from './gateway.js';
export { GATEWAY_HEALTH_PATHS, type GatewayHealth } from './http/index.js';
export { S3Error, S3_ERRORS, compareUtf8, type S3ErrorCode } from './s3/index.js';
export { BUILTIN_POLICIES, parsePolicy } from './access/index.js';
