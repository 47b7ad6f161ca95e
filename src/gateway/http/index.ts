// The HTTP side of the S3 API on Fastify: the app and its one route, the error reply, CORS headers, the
// request context a handler gets, its verified body, the gateway's health endpoints and its metrics.
export { registerHealthRoutes, GATEWAY_HEALTH_PATHS, type GatewayHealth } from './health-route.js';
export { GatewayMetrics, MAX_QUOTA_SERIES, UNKNOWN_OPERATION, type BucketQuotaFigure, type GatewayMetricsSources, type NodeCallObserver } from './gateway-metrics.js';
export { GATEWAY_METRICS_PATHS, registerMetricsRoute } from './metrics-route.js';
export { decodedBody, readSmallBody } from './request-body.js';
export { bucketOf, header, keyOf, type GatewayDeps, type Handler, type RequestContext } from './request-context.js';
export type { AccessDeps, AuthDeps, SignatureSettings } from './auth-deps.js';
export { createS3App, type OperationRouter, type S3AppOptions } from './s3-app.js';
export { ADMIN_API_PATH, MAX_ADMIN_BODY_BYTES, registerAdminApi, type AdminApiOptions } from './admin-route.js';
export { CONSOLE_PATH, registerConsole, type ConsoleDeps, type ConsoleOptions } from './console-route.js';
export { ByteBudget } from './byte-budget.js';
export { RequestGate, type RequestGateLimits } from './request-gate.js';
export { authorize, bucketOwnerOf, expectedOwnerMatches, objectOwnerOf, refuseDeniedAction, refusePublicAcl, refuseUnlistedMiss, requireKeyAccess, requireObjectAccess, userArn, type RequestAccess } from './authorize.js';
export { authorizePostForm } from './post-form-auth.js';
