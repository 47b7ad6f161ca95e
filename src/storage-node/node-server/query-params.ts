import { MESSAGE_CHECKS, WireError, type ErasureParams, type ShardRef } from '../../rpc/index.js';

/* Query-string parameters of the node's routes, checked by the schemas their JSON twins use. */

/** A malformed request, as the wire answers it. */
export function badRequest(problem: string): WireError {
  return new WireError('BadRequest', problem);
}

/** A bucket or key from the query string, by the same rule as in JSON bodies. */
export function stringParam(query: Record<string, string | undefined>, name: string): string {
  const value = query[name];
  if (!MESSAGE_CHECKS.name.is(value)) throw new WireError('BadRequest', `bad ${name}`);
  return value;
}

/** A free-text query parameter (a listing's prefix or start): empty when absent, one string when present. */
export function optionalStringParam(query: Record<string, string | string[] | undefined>, name: string): string {
  const value = query[name];
  if (value === undefined) return '';
  if (typeof value !== 'string') throw new WireError('BadRequest', `bad ${name}`);
  return value;
}

/** An integer query parameter within [min, max]. */
export function intParam(query: Record<string, string | undefined>, name: string, min: number, max: number): number {
  const value = digits(query[name]);
  if (!Number.isSafeInteger(value) || value < min || value > max) throw new WireError('BadRequest', `bad ${name}`);
  return value;
}

/** A query-string number: its digits, or NaN, which no schema accepts. */
export function digits(text: string | undefined): number {
  return text !== undefined && /^\d+$/.test(text) ? Number(text) : Number.NaN;
}

/** The erasure parameters of PUT /v1/shards (k, m, block), checked by the schema a batched prepare uses. */
export function erasureOf(query: Record<string, string | undefined>): ErasureParams {
  return MESSAGE_CHECKS.erasure.parse({ dataShards: digits(query['k']), parityShards: digits(query['m']), blockSizeBytes: digits(query['block']) }, badRequest);
}

/** The shard a query string names (bucket, key, version, shard), checked by the ShardRef schema. */
export function shardRef(query: Record<string, string | undefined>): ShardRef {
  const ref = { bucket: query['bucket'], key: query['key'], versionId: query['version'], shardIndex: digits(query['shard']), ...(query['data'] === undefined ? {} : { dataId: query['data'] }) };
  return MESSAGE_CHECKS.shardRef.parse(ref, badRequest);
}
