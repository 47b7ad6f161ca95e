import { createHmac, hkdfSync, randomBytes } from 'node:crypto';
import type { KmsKeyMaterial } from '../../rpc/index.js';
import { S3Error } from '../s3/index.js';
import { KeyUnsealError, sealDataKey, unsealDataKey } from './key-sealing.js';
import type { MasterKey, MasterKeyring } from './master-keys.js';
import { DATA_KEY_BYTES } from './package-format.js';

/** The key `aws:kms` uses when a write names none (S3's `aws/s3`); made on first use. */
export const DEFAULT_KMS_KEY = 'aws/s3';
/** Names an administrator gives KMS keys; the default key's name has a `/`, so no created key takes it. */
export const KMS_KEY_NAME = /^[A-Za-z0-9_-]{1,64}$/;
/** The one account of a Tessera cluster, as KMS key ARNs name it. */
export const KMS_ACCOUNT = '000000000000';
/** Longest x-amz-server-side-encryption-context header taken (S3 and KMS cap a context at 8 KiB). */
const MAX_CONTEXT_HEADER_BYTES = 8 * 1024;

/** The ARN a KMS key is echoed as: arn:aws:kms:REGION:ACCOUNT:key/NAME. */
export function kmsKeyArn(region: string, name: string): string {
  return `arn:aws:kms:${region}:${KMS_ACCOUNT}:key/${name}`;
}

function notFound(message: string): S3Error {
  return new S3Error('KMS.NotFoundException', { message });
}

/**
 * The key name a request's key id names: `NAME`, `alias/NAME`, or an ARN of this region
 * (`arn:aws:kms:REGION:ACCOUNT:key/NAME` or `…:alias/NAME`). `alias/aws/s3` is the default key.
 * Anything else, or another region's ARN, is KMS.NotFoundException as S3 answers it.
 */
export function parseKmsKeyId(value: string, region: string): string {
  let id = value;
  if (value.startsWith('arn:')) {
    const parts = value.split(':');
    if (parts.length !== 6 || parts[1] !== 'aws' || parts[2] !== 'kms' || !/^[0-9]{12}$/.test(parts[4] ?? '')) throw notFound(`Invalid arn ${value.slice(0, 256)}`);
    if (parts[3] !== region) throw notFound(`Invalid arn ${(parts[3] ?? '').slice(0, 64)}`);
    id = parts[5] as string;
    if (id.startsWith('key/')) id = id.slice('key/'.length);
    else if (!id.startsWith('alias/')) throw notFound(`Invalid arn ${value.slice(0, 256)}`);
  }
  if (id.startsWith('alias/')) id = id.slice('alias/'.length);
  if (id === DEFAULT_KMS_KEY || KMS_KEY_NAME.test(id)) return id;
  throw notFound(`Invalid keyId ${value.slice(0, 256)}`);
}

/**
 * The canonical form (JSON, keys sorted) of an x-amz-server-side-encryption-context header: base64 of
 * UTF-8 JSON holding a string-to-string map, as S3 takes it. Canonical, so that the same pairs in
 * another order seal the same; `aws:` keys are S3's own and refused.
 */
export function parseEncryptionContext(header: string): string {
  const invalid = (): S3Error =>
    new S3Error('InvalidArgument', {
      message: 'The header \'x-amz-server-side-encryption-context\' shall be Base64-encoded UTF-8 string holding JSON which represents a string-string map',
      fields: { ArgumentName: 'x-amz-server-side-encryption-context', ArgumentValue: header.slice(0, 256) },
    });
  if (header.length > MAX_CONTEXT_HEADER_BYTES || !/^[A-Za-z0-9+/]*={0,2}$/.test(header)) throw invalid();
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(header, 'base64')));
  } catch {
    throw invalid();
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw invalid();
  const entries = Object.entries(parsed as Record<string, unknown>);
  if (entries.some(([key, value]) => typeof value !== 'string' || key === '' || key.toLowerCase().startsWith('aws:'))) throw invalid();
  entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return JSON.stringify(Object.fromEntries(entries));
}

/** The context header's value for a stored canonical context: base64 of its JSON. */
export function encryptionContextHeader(canonical: string): string {
  return Buffer.from(canonical, 'utf8').toString('base64');
}

function rootContext(name: string, masterKeyId: string): string {
  return `KMS-KEY\0${name}\0${masterKeyId}`;
}

/**
 * A new KMS key's material: a random root sealed under `master`. The default key's root is derived
 * from the master key instead, so gateways that make it at once (on first use) make the same key.
 */
export function newKmsKeyMaterial(master: MasterKey, name: string, nowMs: number): KmsKeyMaterial {
  const derived = name === DEFAULT_KMS_KEY;
  const root = derived ? createHmac('sha256', master.key).update('tessera-kms-default-root\0').update(name).digest() : randomBytes(DATA_KEY_BYTES);
  const nonce = derived ? createHmac('sha256', master.key).update('tessera-kms-default-nonce\0').update(name).digest().subarray(0, 12) : undefined;
  const sealedRoot = sealDataKey(master.key, root, rootContext(name, master.id), nonce);
  root.fill(0);
  return { sealedRoot, masterKeyId: master.id, versions: 1, disabled: false, rotatedMs: nowMs };
}

/**
 * The material re-sealed under the current master key (master-key rotation), or undefined when it is
 * sealed under it already. The root, and so every version's key, stays the same.
 */
export function resealKmsKeyMaterial(masterKeys: MasterKeyring, name: string, material: KmsKeyMaterial): KmsKeyMaterial | undefined {
  const current = masterKeys.current;
  if (material.masterKeyId === current.id) return undefined;
  const root = openRoot(masterKeys, name, material);
  const sealedRoot = sealDataKey(current.key, root, rootContext(name, current.id));
  root.fill(0);
  return { ...material, sealedRoot, masterKeyId: current.id };
}

function openRoot(masterKeys: MasterKeyring, name: string, material: KmsKeyMaterial): Buffer {
  const master = masterKeys.get(material.masterKeyId);
  if (master === undefined) throw new KeyUnsealError(`KMS key ${name} is sealed under a master key the master key file does not list`);
  return unsealDataKey(master.key, material.sealedRoot, rootContext(name, material.masterKeyId));
}

/**
 * The key-encryption key of version `version` of KMS key `name`: HKDF-SHA256 of its root, so every
 * version is a key of its own and none reveals another. Throws KeyUnsealError when the root does not open.
 */
export function kmsVersionKey(masterKeys: MasterKeyring, name: string, material: KmsKeyMaterial, version: number): Buffer {
  const root = openRoot(masterKeys, name, material);
  try {
    return Buffer.from(hkdfSync('sha256', root, Buffer.alloc(0), `tessera-kms-version\0${name}\0${version}`, DATA_KEY_BYTES));
  } finally {
    root.fill(0);
  }
}

/** The sealing context of an SSE-KMS data key: key, version and encryption context are all bound in. */
export function kmsSealContext(name: string, version: number, context: string | undefined): string {
  return `SSE-KMS\0${name}\0${version}\0${context ?? ''}`;
}
