import type { FastifyReply } from 'fastify';
import type { BucketRecord, CorsRule } from '../rpc/index.js';
import { readSmallBody } from './request-body.js';
import { bucketOf, metadataSignal, type RequestContext } from './request-context.js';
import { S3Error } from './s3-errors.js';
import { parseXml, renderXml } from './xml.js';

const MAX_RULES = 100;
const METHODS = new Set(['GET', 'PUT', 'HEAD', 'POST', 'DELETE']);

function list(value: unknown): unknown[] {
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
}

function strings(value: unknown): string[] {
  return list(value).map((item) => {
    if (typeof item !== 'string') throw new S3Error('MalformedXML');
    return item.trim();
  });
}

function oneWildcard(kind: string, values: readonly string[]): void {
  for (const value of values) {
    if (value.split('*').length > 2) {
      throw new S3Error('InvalidRequest', { message: `${kind} "${value}" can not have more than one wildcard.` });
    }
  }
}

/** A PutBucketCors document as rules, validated as S3 does (1-100 rules, known methods, one wildcard each). */
export function parseCorsXml(text: string): CorsRule[] {
  let document: Record<string, unknown>;
  try {
    document = parseXml(text);
  } catch (err) {
    throw new S3Error('MalformedXML', { cause: err });
  }
  const root = document['CORSConfiguration'];
  if (typeof root !== 'object' || root === null) throw new S3Error('MalformedXML');
  const rules = list((root as { CORSRule?: unknown }).CORSRule);
  if (rules.length === 0 || rules.length > MAX_RULES) throw new S3Error('MalformedXML');
  return rules.map((entry) => {
    if (typeof entry !== 'object' || entry === null) throw new S3Error('MalformedXML');
    const fields = entry as Record<string, unknown>;
    const allowedOrigins = strings(fields['AllowedOrigin']);
    const allowedMethods = strings(fields['AllowedMethod']);
    const allowedHeaders = strings(fields['AllowedHeader']);
    const exposeHeaders = strings(fields['ExposeHeader']);
    if (allowedOrigins.length === 0 || allowedMethods.length === 0) throw new S3Error('MalformedXML');
    for (const method of allowedMethods) {
      if (!METHODS.has(method)) throw new S3Error('InvalidRequest', { message: `Found unsupported HTTP method in CORS config. Unsupported method is ${method}` });
    }
    oneWildcard('AllowedOrigin', allowedOrigins);
    oneWildcard('AllowedHeader', allowedHeaders);
    const rule: CorsRule = { allowedOrigins, allowedMethods, allowedHeaders, exposeHeaders };
    const id = fields['ID'];
    if (typeof id === 'string' && id !== '') rule.id = id;
    const maxAge = fields['MaxAgeSeconds'];
    if (maxAge !== undefined) {
      if (typeof maxAge !== 'string' || !/^\d{1,10}$/.test(maxAge.trim())) throw new S3Error('MalformedXML');
      rule.maxAgeSeconds = Number(maxAge.trim());
    }
    return rule;
  });
}

function renderCors(rules: readonly CorsRule[]): string {
  return renderXml('CORSConfiguration', {
    CORSRule: rules.map((rule) => ({
      ...(rule.id === undefined ? {} : { ID: rule.id }),
      AllowedHeader: rule.allowedHeaders,
      AllowedMethod: rule.allowedMethods,
      AllowedOrigin: rule.allowedOrigins,
      ExposeHeader: rule.exposeHeaders,
      ...(rule.maxAgeSeconds === undefined ? {} : { MaxAgeSeconds: rule.maxAgeSeconds }),
    })),
  });
}

/** GetBucketCors. */
export async function getBucketCors(ctx: RequestContext): Promise<void> {
  const bucket = bucketOf(ctx);
  const record = await ctx.services.buckets.require(bucket, metadataSignal(ctx));
  if (record.cors === undefined) throw new S3Error('NoSuchCORSConfiguration', { fields: { BucketName: bucket } });
  await ctx.reply.type('application/xml').send(renderCors(record.cors));
}

/** PutBucketCors: replaces the bucket's rules. */
export async function putBucketCors(ctx: RequestContext): Promise<void> {
  const bucket = bucketOf(ctx);
  const rules = parseCorsXml((await readSmallBody(ctx, 64 * 1024)).toString('utf8'));
  await ctx.services.buckets.update(bucket, (record) => ({ ...record, cors: rules }), metadataSignal(ctx));
  await ctx.reply.send();
}

/** DeleteBucketCors: 204, also when there was none. */
export async function deleteBucketCors(ctx: RequestContext): Promise<void> {
  const bucket = bucketOf(ctx);
  await ctx.services.buckets.update(bucket, ({ cors: _removed, ...record }) => record, metadataSignal(ctx));
  await ctx.reply.status(204).send();
}

/** `*` matches any run of characters; at most one appears (checked when the rule was stored). */
function wildcardMatches(pattern: string, value: string, ignoreCase: boolean): boolean {
  const p = ignoreCase ? pattern.toLowerCase() : pattern;
  const v = ignoreCase ? value.toLowerCase() : value;
  const star = p.indexOf('*');
  if (star < 0) return p === v;
  const head = p.slice(0, star);
  const tail = p.slice(star + 1);
  return v.length >= head.length + tail.length && v.startsWith(head) && v.endsWith(tail);
}

/** The first rule that allows this origin, method and (for a preflight) every requested header. */
export function matchCorsRule(rules: readonly CorsRule[], origin: string, method: string, requestHeaders: readonly string[]): CorsRule | undefined {
  return rules.find(
    (rule) =>
      rule.allowedOrigins.some((allowed) => wildcardMatches(allowed, origin, false)) &&
      rule.allowedMethods.includes(method) &&
      requestHeaders.every((name) => rule.allowedHeaders.some((allowed) => wildcardMatches(allowed, name, true))),
  );
}

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
 * Access-Control-* headers of the first matching rule, 403 CORSResponse when none matches.
 */
export async function answerPreflight(
  reply: FastifyReply,
  headers: Readonly<Record<string, string | string[] | undefined>>,
  bucketRecord: (signal: AbortSignal) => Promise<BucketRecord>,
  signal: AbortSignal,
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
  if (record.cors === undefined) throw new S3Error('CORSResponse');
  const rule = matchCorsRule(record.cors, origin, method, requested);
  if (rule === undefined) {
    throw new S3Error('CORSResponse', {
      message: "This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.",
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
export async function applyCors(ctx: RequestContext): Promise<void> {
  const origin = ctx.request.headers.origin;
  if (origin === undefined || ctx.target.bucket === undefined) return;
  let record: BucketRecord;
  try {
    record = await ctx.services.buckets.require(ctx.target.bucket, metadataSignal(ctx));
  } catch {
    return;
  }
  const rule = record.cors === undefined ? undefined : matchCorsRule(record.cors, origin, ctx.request.method, []);
  if (rule === undefined) return;
  setCorsHeaders(ctx.reply, rule, origin);
  ctx.reply.header('vary', 'Origin, Access-Control-Request-Headers, Access-Control-Request-Method');
}
