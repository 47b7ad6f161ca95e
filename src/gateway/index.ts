export { Gateway, MasterKeyring, ObjectSealer, masterKeyLine, ringFromConfig, rotateMasterKey, type RotationReport } from './gateway.js';
export { GATEWAY_HEALTH_PATHS, type GatewayHealth } from './http/index.js';
export { S3Error, S3_ERRORS, compareUtf8, type S3ErrorCode } from './s3/index.js';
