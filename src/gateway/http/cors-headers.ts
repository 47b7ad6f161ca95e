import type { FastifyReply } from 'fastify';
import type { BucketRecord, CorsRule } from '../../rpc/index.js';
import { matchCorsRule, S3Error } from '../s3/index.js';
import type { RequestContext } from './request-context.js';
import type { BucketRecords } from '../data-path/index.js';

/** Sets the Access-Control-* headers S3 sends for a matched rule. */
function setCorsHeaders(reply: FastifyReply, rule: CorsRule, origin: string): void {
  const anyOrigin = rule.allowedOrigins.includes('*');
  reply.header('access-control-allow-origin', anyOrigin ? '*' : origin);
  reply.header('access-control-allow-methods', rule.allowedMethods.join(', '));
  if (!anyOrigin) reply.header('access-control-allow-credentials', 'true');
  if (rule.exposeHeaders.length > 0) reply.header('access-control-expose-headers', rule.exposeHeaders.join(', '));
  if (rule.maxAgeSeconds !== undefined) reply.header('access-control-max-age', rule.maxAgeSeconds);
}

/**
 * Answers a CORS preflight (`OPTIONS`, unauthenticated as in S3) from the bucket's rules: 200 with the
 * Access-Control-* headers of the first matching rule, else 403 AccessForbidden whose message starts
 * `CORSResponse:` and whose Method and ResourceType name what was asked, as S3 answers.
 */
export async function answerPreflight(
  reply: FastifyReply,
  headers: Readonly<Record<string, string | string[] | undefined>>,
  bucketRecord: (signal: AbortSignal) => Promise<BucketRecord>,
  signal: AbortSignal,
  resourceType: 'BUCKET' | 'OBJECT' = 'OBJECT',
): Promise<void> {
  const single = (name: string): string | undefined => {
    const value = headers[name];
    return Array.isArray(value) ? value[0] : value;
  };
  const origin = single('origin');
  if (origin === undefined) throw new S3Error('BadRequest', { message: 'Insufficient information. Origin request header needed.' });
  const method = single('access-control-request-method');
  if (method === undefined) throw new S3Error('BadRequest', { message: 'Invalid Access-Control-Request-Method: null' });
  const requested = (single('access-control-request-headers') ?? '').split(',').map((name) => name.trim()).filter((name) => name !== '');
  const record = await bucketRecord(signal);
  const fields = { Method: method, ResourceType: resourceType };
  if (record.cors === undefined) throw new S3Error('AccessForbidden', { fields });
  const rule = matchCorsRule(record.cors, origin, method, requested);
  if (rule === undefined) {
    throw new S3Error('AccessForbidden', {
      // S3's own text, its misspelling included: clients and people search for it.
      message: "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.",
      fields,
    });
  }
  setCorsHeaders(reply, rule, origin);
  if (requested.length > 0) reply.header('access-control-allow-headers', requested.join(', '));
  reply.header('vary', 'Origin, Access-Control-Request-Headers, Access-Control-Request-Method');
  await reply.send();
}

/**
 * Adds CORS headers to an actual request from a browser (one with an Origin) when the bucket has a
 * rule for that origin and method; quietly adds nothing otherwise, as S3 does.
 */
export async function applyCors(ctx: RequestContext<BucketRecords>): Promise<void> {
  const origin = ctx.request.headers.origin;
  if (origin === undefined || ctx.target.bucket === undefined) return;
  let record: BucketRecord;
  try {
    record = await ctx.services.buckets.require(ctx.target.bucket, ctx.signal);
  } catch {
    return;
  }
  const rule = record.cors === undefined ? undefined : matchCorsRule(record.cors, origin, ctx.request.method, []);
  if (rule === undefined) return;
  setCorsHeaders(ctx.reply, rule, origin);
  ctx.reply.header('vary', 'Origin, Access-Control-Request-Headers, Access-Control-Request-Method');
}
