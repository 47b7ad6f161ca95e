// The HTTP side of the S3 API on Fastify: the app and its one route, the error reply, CORS headers, the
// request context a handler gets, its verified body, and the gateway's health endpoints.
export { registerHealthRoutes, GATEWAY_HEALTH_PATHS, type GatewayHealth } from './health-route.js';
export { decodedBody, readSmallBody } from './request-body.js';
export { bucketOf, header, keyOf, type Handler, type RequestContext } from './request-context.js';
export { createS3App, type OperationRouter, type S3AppOptions } from './s3-app.js';
export { authorize, bucketOwnerOf, objectOwnerOf, refusePublicAcl, requireKeyAccess, requireObjectAccess, userArn, type RequestAccess } from './authorize.js';
