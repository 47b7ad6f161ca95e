import type { FastifyRequest } from 'fastify';
import type { Principal } from '../access/index.js';
import { verifyPostSignature, type PostSigner } from '../auth/index.js';
import { S3Error } from '../s3/index.js';
import { authorize, type RequestAccess } from './authorize.js';
import type { AuthDeps } from './auth-deps.js';
import type { RequestContext } from './request-context.js';
import { signatureRules } from './signature-rules.js';

/**
 * A browser POST upload seen as the PutObject it stands for: the form's fields in place of the
 * request's headers (Content-Type, x-amz-meta-*, x-amz-acl, ...) and the form's key in the target,
 * so that the code that reads a PUT's headers reads the form. The access decision is the form
 * signer's (http/authorize.ts), taken here because the signature travels in the body; `checkPolicy`
 * runs between the signature check and the access decision.
 */
export async function authorizePostForm<Deps extends AuthDeps>(
  ctx: RequestContext<Deps>,
  fields: ReadonlyMap<string, string>,
  key: string,
  formHeaders: Record<string, string>,
  checkPolicy: () => void,
): Promise<RequestContext<Deps>> {
  const signer = await verifySigner(ctx, fields);
  // The policy's conditions speak only once its signature is known to be good.
  checkPolicy();
  let principal: Principal | undefined = ctx.access.principal;
  if (!signer.anonymous) {
    principal = ctx.services.users.lookup(signer.accessKeyId)?.principal;
    if (principal === undefined) throw new S3Error('InvalidAccessKeyId', { fields: { AWSAccessKeyId: signer.accessKeyId } });
    ctx.request.s3User = signer.accessKeyId;
  }
  // Fastify's request getters (ip, protocol, log) read through the prototype; only the headers differ.
  const request = Object.create(ctx.request, { headers: { value: formHeaders, enumerable: true } }) as FastifyRequest;
  const scope = { ...ctx, request, target: { ...ctx.target, key } };
  const access: RequestAccess = await authorize(scope, principal, 's3:PutObject');
  return { ...scope, access };
}

/**
 * The form's signer. A key the gateway does not know yet (a user added a moment ago elsewhere)
 * makes it re-read the users once, as for a signed header.
 */
async function verifySigner(ctx: RequestContext<AuthDeps>, fields: ReadonlyMap<string, string>): Promise<PostSigner> {
  const credentials = { secretKeyFor: (accessKeyId: string) => ctx.services.users.lookup(accessKeyId)?.secretAccessKey };
  const rules = signatureRules(ctx.services);
  try {
    return verifyPostSignature(fields, credentials, rules);
  } catch (err) {
    if (!(err instanceof S3Error && err.code === 'InvalidAccessKeyId')) throw err;
    await ctx.services.users.refreshSoon();
    return verifyPostSignature(fields, credentials, rules);
  }
}
