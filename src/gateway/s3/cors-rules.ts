import type { CorsRule } from '../../rpc/index.js';
import { S3Error } from './errors.js';
import { requestDocumentRoot } from './request-document.js';
import { list, renderXml } from './xml.js';

const MAX_RULES = 100;
const METHODS = new Set(['GET', 'PUT', 'HEAD', 'POST', 'DELETE']);

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
  const root = requestDocumentRoot(text, 'CORSConfiguration');
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
    // Browsers take Access-Control-Expose-Headers literally, so S3 refuses a pattern there.
    const wildcard = exposeHeaders.find((name) => name.includes('*'));
    if (wildcard !== undefined) {
      throw new S3Error('InvalidRequest', { message: `ExposeHeader "${wildcard}" contains wildcard. We currently do not support wildcard for ExposeHeader.` });
    }
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

/** A bucket's rules as the CORSConfiguration document GetBucketCors answers with. */
export function renderCors(rules: readonly CorsRule[]): string {
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
