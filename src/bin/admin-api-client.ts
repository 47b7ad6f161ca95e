import { createHash } from 'node:crypto';
import { TesseraError, type Env } from '../common/index.js';
import type { BucketQuota } from '../rpc/index.js';
import {
  ADMIN_API_PATH,
  amzDateOf,
  RequestSigner,
  type IdentityActions,
  type KeySummary,
  type KmsKeyActions,
  type KmsKeySummary,
  type NodeStatusRow,
  type ObjectReport,
  type PolicySummary,
  type QuotaReport,
  type TargetActions,
  type TargetSummary,
  type UserDetail,
  type UserSummary,
} from '../gateway/index.js';

/** Longest wait for one admin API answer. */
const CALL_TIMEOUT_MS = 60_000;
/** Largest answer read: a listing of many users, far below it. */
const MAX_ANSWER_BYTES = 16 * 1024 * 1024;

/** An admin API call the gateway refused: its `code` (NoSuchUser, AccessDenied, ...) and message. */
export class AdminApiError extends TesseraError<string> {
  readonly status: number;
  constructor(status: number, code: string, message: string) {
    super(code, message);
    this.status = status;
  }
}

/** Where the admin API is and who signs its requests. */
export interface AdminApiClientOptions {
  /** The gateway's base URL, e.g. `http://127.0.0.1:9000`. */
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
}

/** A path segment as SigV4 encodes it: every byte but A-Z a-z 0-9 - . _ ~ percent-encoded. */
function encodeSegment(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** A query as SigV4 signs it: pairs sorted by name, each name and value encoded as a path segment is. */
function canonicalQuery(query: Readonly<Record<string, string>>): string {
  return Object.entries(query)
    .map(([name, value]) => [encodeSegment(name), encodeSegment(value)] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, value]) => `${name}=${value}`)
    .join('&');
}

/**
 * The identity, target and KMS key actions and the cluster reads over a gateway's admin API
 * (docs/admin-api.md): each a SigV4-signed JSON call, signed by the gateway's own signer code. What
 * `tessera admin user|key|policy|target|kms key|status --endpoint` uses.
 */
export class AdminApiClient implements IdentityActions, TargetActions, KmsKeyActions {
  readonly #base: URL;
  readonly #signer: RequestSigner;

  constructor(options: AdminApiClientOptions) {
    this.#base = new URL(options.endpoint);
    if (this.#base.protocol !== 'http:' && this.#base.protocol !== 'https:') throw new Error(`--endpoint ${options.endpoint}: expected an http:// or https:// URL`);
    this.#signer = new RequestSigner({ accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey, region: options.region });
  }

  listUsers(): Promise<UserSummary[]> {
    return this.call('GET', ['users']);
  }
  getUser(name: string): Promise<UserDetail> {
    return this.call('GET', ['users', name]);
  }
  createUser(name: string): Promise<{ user: string; canonicalId: string; accessKeyId: string; secretAccessKey: string }> {
    return this.call('POST', ['users'], JSON.stringify({ name }));
  }
  deleteUser(name: string): Promise<{ removed: 'user'; user: string; accessKeyIds: string[] }> {
    return this.call('DELETE', ['users', name]);
  }
  listKeys(user: string): Promise<KeySummary[]> {
    return this.call('GET', ['users', user, 'keys']);
  }
  createKey(user: string): Promise<{ user: string; accessKeyId: string; secretAccessKey: string }> {
    return this.call('POST', ['users', user, 'keys']);
  }
  setKeyEnabled(accessKeyId: string, enabled: boolean): Promise<{ user: string; accessKeyId: string; enabled: boolean }> {
    return this.call('PUT', ['keys', accessKeyId], JSON.stringify({ enabled }));
  }
  deleteKey(accessKeyId: string): Promise<{ removed: 'key'; user: string; accessKeyId: string }> {
    return this.call('DELETE', ['keys', accessKeyId]);
  }
  listPolicies(): Promise<PolicySummary[]> {
    return this.call('GET', ['policies']);
  }
  getPolicy(name: string): Promise<{ name: string; kind: 'built in' | 'stored'; document: unknown }> {
    return this.call('GET', ['policies', name]);
  }
  putPolicy(name: string, document: string): Promise<{ stored: 'policy'; policy: string; replaced: boolean }> {
    return this.call('PUT', ['policies', name], document);
  }
  attachPolicy(user: string, policy: string): Promise<{ user: string; policy: string; attached: true }> {
    return this.call('PUT', ['users', user, 'policies', policy]);
  }
  detachPolicy(user: string, policy: string): Promise<{ user: string; policy: string; attached: false }> {
    return this.call('DELETE', ['users', user, 'policies', policy]);
  }
  listTargets(): Promise<TargetSummary[]> {
    return this.call('GET', ['targets']);
  }
  addTarget(name: string, definition: unknown): Promise<TargetSummary> {
    return this.call('PUT', ['targets', name], JSON.stringify(definition));
  }
  removeTarget(name: string): Promise<{ removed: 'target'; name: string }> {
    return this.call('DELETE', ['targets', name]);
  }
  listKmsKeys(): Promise<KmsKeySummary[]> {
    return this.call('GET', ['kms', 'keys']);
  }
  createKmsKey(name: string): Promise<KmsKeySummary> {
    return this.call('POST', ['kms', 'keys'], JSON.stringify({ name }));
  }
  rotateKmsKey(name: string): Promise<KmsKeySummary> {
    return this.call('POST', ['kms', 'keys', name, 'rotate']);
  }
  setKmsKeyEnabled(name: string, enabled: boolean): Promise<KmsKeySummary> {
    return this.call('PUT', ['kms', 'keys', name], JSON.stringify({ enabled }));
  }
  /** Every node's work status, as `tessera admin status` reads it. */
  status(): Promise<{ nodes: NodeStatusRow[] }> {
    return this.call('GET', ['status']);
  }
  /** Starts a scrub and repair pass on every node (`tessera admin heal`); the statuses read after the start. */
  startHeal(fast: boolean): Promise<{ started: number; fast: boolean; nodes: NodeStatusRow[] }> {
    return this.call('POST', ['healing'], JSON.stringify({ fast }));
  }
  /** A bucket's quota and usage, after setting (`change`) or clearing (null) the quota when asked. */
  bucketQuota(bucket: string, change: BucketQuota | null | undefined): Promise<QuotaReport> {
    const path = ['buckets', bucket, 'quota'];
    if (change === undefined) return this.call('GET', path);
    return change === null ? this.call('DELETE', path) : this.call('PUT', path, JSON.stringify(change));
  }
  /** One object version's report, every part of a multipart object read, as `tessera admin object` prints it. */
  objectReport(bucket: string, key: string, versionId?: string): Promise<ObjectReport & { found: boolean }> {
    return this.call('GET', ['objects'], undefined, { bucket, key, parts: 'true', ...(versionId === undefined ? {} : { versionId }) });
  }

  /** One signed call; the answer's JSON, or AdminApiError with the gateway's code and message. */
  private async call<T>(method: string, segments: readonly string[], body?: string, query: Readonly<Record<string, string>> = {}): Promise<T> {
    const path = `${this.#base.pathname.replace(/\/+$/, '')}${ADMIN_API_PATH}${segments.map(encodeSegment).join('/')}`;
    const rawQuery = canonicalQuery(query);
    const bytes = Buffer.from(body ?? '', 'utf8');
    const payloadHash = createHash('sha256').update(bytes).digest('hex');
    const amzDate = amzDateOf(Date.now());
    const headers: Record<string, string> = { host: this.#base.host, 'x-amz-date': amzDate, 'x-amz-content-sha256': payloadHash };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const authorization = this.#signer.authorization({ method, path, query: rawQuery, headers, payloadHash, amzDate });
    const { host: _, ...sent } = headers;
    const response = await fetch(new URL(rawQuery === '' ? path : `${path}?${rawQuery}`, this.#base), {
      method,
      headers: { ...sent, authorization },
      ...(body === undefined ? {} : { body: bytes }),
      signal: AbortSignal.timeout(CALL_TIMEOUT_MS),
    });
    const text = await readAnswer(response);
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      throw new AdminApiError(response.status, 'BadAnswer', `${this.#base.origin} answered ${response.status} without JSON: is it a Tessera gateway?`);
    }
    if (!response.ok) {
      const error = value as { code?: unknown; message?: unknown };
      throw new AdminApiError(response.status, typeof error.code === 'string' ? error.code : 'Error', typeof error.message === 'string' ? error.message : `HTTP ${response.status}`);
    }
    return value as T;
  }
}

/** The answer's text, refusing one past MAX_ANSWER_BYTES. */
async function readAnswer(response: Response): Promise<string> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (response.body !== null) {
    for await (const chunk of response.body) {
      size += chunk.length;
      if (size > MAX_ANSWER_BYTES) throw new Error('the admin API answer is too large');
      chunks.push(chunk);
    }
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** The options that point `tessera admin` at a gateway's admin API. */
export const API_CLIENT_OPTIONS = {
  endpoint: { type: 'string' },
  'access-key': { type: 'string' },
  'secret-key': { type: 'string' },
  region: { type: 'string' },
} as const;

/** The client of `--endpoint`, with the keys of --access-key/--secret-key or the usual AWS variables. */
export function adminApiClientFrom(values: { endpoint?: string | undefined; 'access-key'?: string | undefined; 'secret-key'?: string | undefined; region?: string | undefined }, env: Env): AdminApiClient {
  const accessKeyId = values['access-key'] ?? env['AWS_ACCESS_KEY_ID'];
  const secretAccessKey = values['secret-key'] ?? env['AWS_SECRET_ACCESS_KEY'];
  if (accessKeyId === undefined || secretAccessKey === undefined) throw new Error('--endpoint needs keys: --access-key and --secret-key, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY');
  const region = values.region ?? env['AWS_REGION'] ?? env['AWS_DEFAULT_REGION'] ?? 'us-east-1';
  return new AdminApiClient({ endpoint: values.endpoint as string, accessKeyId, secretAccessKey, region });
}
