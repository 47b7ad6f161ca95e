import { createHmac, randomBytes } from 'node:crypto';
import type { KmsKeyMaterial, ObjectEncryption } from '../../rpc/index.js';
import { S3Error } from '../s3/index.js';
import { customerKeyDigest, customerKeyMatches, KeyUnsealError, sealDataKey, unsealDataKey } from './key-sealing.js';
import { encryptionContextHeader, kmsKeyArn, kmsSealContext, kmsVersionKey } from './kms-keys.js';
import type { MasterKeyring } from './master-keys.js';
import type { PackageCipher } from './package-cipher.js';
import { DATA_KEY_BYTES, OBJECT_NONCE_BYTES, PackageEncryptor, decryptRange, storedSize } from './package-format.js';
import type { KmsRequest, SseRequest } from './sse-request.js';

/** The cluster's KMS keys as a gateway knows them (followed from the nodes): a key's material by name. */
export interface KmsKeyLookup {
  kmsKey(name: string): KmsKeyMaterial | undefined;
}

/** How one body is encrypted as it is written: the record's field, the stream transform, the ETag rule. */
export interface BodyEncryption {
  /** The record's `encryption` field for this body. */
  field: ObjectEncryption;
  /** The stored (encrypted) stream of a plaintext stream; `expectedPlainBytes` (a hint) spares re-sealing its last package. */
  encrypt(plaintext: AsyncIterable<Uint8Array>, expectedPlainBytes?: number): AsyncIterable<Uint8Array>;
  /** Plaintext bytes that went through `encrypt`. */
  plainBytes(): number;
  /** Stored size of a plaintext size. */
  storedSize(plainBytes: number): number;
  /** The ETag of a body whose plaintext MD5 is `md5Hex`, as S3 gives it for this kind of encryption. */
  etagOf(md5Hex: string): string;
}

/** Plaintext bytes [offset, offset + length) of a body of `plainBytes`. */
export interface PlainRange {
  plainBytes: number;
  offsetBytes: number;
  lengthBytes: number;
}

/** A data key opened for use, with the field it was sealed in. */
interface OpenKey {
  field: Omit<ObjectEncryption, 'nonce'>;
  dataKey: Buffer;
}

const STORED_WITH_SSE_C = 'The object was stored using a form of Server Side Encryption. The correct parameters must be provided to retrieve the object.';

/**
 * Seals and opens data keys: a fresh random key per object (or per multipart upload), sealed under the
 * current master key (SSE-S3) or the customer's key (SSE-C). Gives a write its encryption and a read
 * its data key, with S3's errors for a missing or wrong customer key; bodies are sealed and opened on
 * `cipher`, the AES-256-GCM backend the gateway chose.
 */
export class ObjectSealer {
  private masterKeys: MasterKeyring | undefined;
  private kmsKeys: KmsKeyLookup | undefined;
  private region = 'us-east-1';
  /** The AES-256-GCM implementation bodies are sealed and opened with. */
  readonly cipher: PackageCipher;

  constructor(options: { masterKeys: MasterKeyring | undefined; cipher: PackageCipher }) {
    this.masterKeys = options.masterKeys;
    this.cipher = options.cipher;
  }

  /** Takes the cluster's KMS keys (SSE-KMS), and the region their ARNs name. */
  useKmsKeys(kmsKeys: KmsKeyLookup, region: string): void {
    this.kmsKeys = kmsKeys;
    this.region = region;
  }

  /** The master keys KMS key material is sealed under, or S3's error when this gateway has none. */
  masterKeyring(): MasterKeyring {
    return this.requireMasterKeys();
  }

  /** The ARN a KMS key is echoed as on this gateway. */
  kmsKeyArn(name: string): string {
    return kmsKeyArn(this.region, name);
  }

  /**
   * The material of KMS key `name` for sealing or opening: S3's KMS.NotFoundException when there is
   * no such key, KMS.DisabledException when it is disabled.
   */
  usableKmsKey(name: string): KmsKeyMaterial {
    const material = this.kmsKeys?.kmsKey(name);
    if (material === undefined) throw new S3Error('KMS.NotFoundException', { message: `Key '${this.kmsKeyArn(name)}' does not exist` });
    if (material.disabled) throw new S3Error('KMS.DisabledException', { message: `${this.kmsKeyArn(name)} is disabled.` });
    return material;
  }

  /** The key-encryption key of a version of a KMS key; a root that does not open is an internal error, never shown. */
  private kmsKek(name: string, material: KmsKeyMaterial, version: number): Buffer {
    try {
      return kmsVersionKey(this.requireMasterKeys(), name, material, version);
    } catch (err) {
      if (err instanceof KeyUnsealError) throw new S3Error('InternalError', { message: 'The object\'s data key could not be opened.' });
      throw err;
    }
  }

  private newKmsKey(request: KmsRequest, dataKey: Buffer): OpenKey {
    const name = request.keyName;
    if (name === undefined) throw new S3Error('InternalError', { message: 'An SSE-KMS write reached the sealer with no key resolved.' });
    const material = this.usableKmsKey(name);
    const version = material.versions;
    const kek = this.kmsKek(name, material, version);
    const sealedKey = sealDataKey(kek, dataKey, kmsSealContext(name, version, request.context));
    kek.fill(0);
    return {
      dataKey,
      field: {
        kind: 'SSE-KMS',
        sealedKey,
        kmsKeyName: name,
        kmsKeyVersion: version,
        ...(request.context === undefined ? {} : { kmsContext: request.context }),
        ...(request.bucketKey === true ? { bucketKey: true } : {}),
      },
    };
  }

  /** Takes a re-read master key file: new data keys are sealed under its first key from now on. */
  useMasterKeys(masterKeys: MasterKeyring): void {
    this.masterKeys = masterKeys;
  }

  /** The id of the master key new data keys are sealed under, if any. */
  currentMasterKeyId(): string | undefined {
    return this.masterKeys?.current.id;
  }

  /** A new data key sealed for `request`: the start of a new object or multipart upload. */
  private newKey(request: SseRequest): OpenKey {
    const dataKey = randomBytes(DATA_KEY_BYTES);
    if (request.kind === 'SSE-C') {
      const salt = randomBytes(16).toString('base64');
      return {
        dataKey,
        field: { kind: 'SSE-C', sealedKey: sealDataKey(request.customerKey, dataKey, 'SSE-C'), customerKeySalt: salt, customerKeyDigest: customerKeyDigest(request.customerKey, salt) },
      };
    }
    if (request.kind === 'SSE-KMS') return this.newKmsKey(request, dataKey);
    const master = this.requireMasterKeys().current;
    return { dataKey, field: { kind: 'SSE-S3', sealedKey: sealDataKey(master.key, dataKey, `SSE-S3\0${master.id}`), masterKeyId: master.id } };
  }

  private requireMasterKeys(): MasterKeyring {
    if (this.masterKeys === undefined) {
      throw new S3Error('NotImplemented', { message: 'Server-side encryption with AES256 or aws:kms needs a master key file (sseMasterKeyFile), and this gateway has none.' });
    }
    return this.masterKeys;
  }

  /** The record field of a new multipart upload (its marker): a sealed data key every part will use. */
  newUpload(request: SseRequest): ObjectEncryption | undefined {
    return request.kind === 'none' ? undefined : this.newKey(request).field;
  }

  /**
   * How to encrypt a body: a new object gets a new data key; a part of an upload whose marker carries
   * `upload` reuses the upload's key (the request must then carry the same SSE-C key) under a nonce of its own.
   */
  forBody(request: SseRequest, upload?: ObjectEncryption): BodyEncryption | undefined {
    if (upload === undefined && request.kind === 'none') return undefined;
    const key = upload === undefined ? this.newKey(request) : { field: upload, dataKey: this.dataKey(upload, request) };
    const nonce = randomBytes(OBJECT_NONCE_BYTES);
    const encryptor = new PackageEncryptor(key.dataKey, nonce, this.cipher);
    const { kind } = key.field;
    return {
      field: { ...key.field, nonce: nonce.toString('base64') },
      encrypt: (plaintext, expectedPlainBytes) => encryptor.encrypt(plaintext, expectedPlainBytes),
      plainBytes: () => encryptor.plainBytes(),
      storedSize,
      // SSE-S3 keeps S3's MD5 ETag; an SSE-C or SSE-KMS ETag is not the MD5 (as in S3), so it cannot confirm a guess of the plaintext.
      etagOf: (md5Hex) => (kind !== 'SSE-S3' ? createHmac('sha256', key.dataKey).update('tessera-sse-c-etag\0').update(md5Hex).digest('hex').slice(0, 32) : md5Hex),
    };
  }

  /** The plaintext of `range` of a body sealed as `field` under `dataKey`, from its stored packages (storedRange's). */
  decrypt(stored: AsyncIterable<Uint8Array>, field: ObjectEncryption, dataKey: Uint8Array, range: PlainRange): AsyncGenerator<Uint8Array> {
    if (field.nonce === undefined) throw new S3Error('InternalError', { message: 'An encrypted body was opened without its nonce.' });
    return decryptRange(stored, { ...range, cipher: this.cipher, dataKey, objectNonce: Buffer.from(field.nonce, 'base64') });
  }

  /**
   * Checks that `request` may read a version sealed as `field` (or a plain one, when undefined): SSE-C
   * objects need their key, other objects refuse one. Throws S3's error; returns nothing.
   */
  checkAccess(field: ObjectEncryption | undefined, request: SseRequest): void {
    if (field?.kind !== 'SSE-C') {
      if (request.kind === 'SSE-C') throw new S3Error('InvalidRequest', { message: 'The encryption parameters are not applicable to this object.' });
      return;
    }
    if (request.kind !== 'SSE-C') throw new S3Error('InvalidRequest', { message: STORED_WITH_SSE_C });
    const { customerKeySalt, customerKeyDigest: digest } = field;
    if (customerKeySalt === undefined || digest === undefined || !customerKeyMatches(request.customerKey, customerKeySalt, digest)) {
      throw new S3Error('AccessDenied', { message: 'The provided customer key does not match the key the object was encrypted with.' });
    }
  }

  /** The data key of a version sealed as `field`, opened for `request` (checked as checkAccess checks it). */
  dataKey(field: ObjectEncryption, request: SseRequest): Buffer {
    this.checkAccess(field, request);
    try {
      if (field.kind === 'SSE-C' && request.kind === 'SSE-C') return unsealDataKey(request.customerKey, field.sealedKey, 'SSE-C');
      if (field.kind === 'SSE-KMS') return this.kmsDataKey(field);
      const id = field.masterKeyId ?? '';
      const master = this.requireMasterKeys().get(id);
      // The client learns nothing of the key ids; the operator finds the record's masterKeyId with the node's tools.
      if (master === undefined) throw new S3Error('InternalError', { message: 'The object\'s data key could not be opened.' });
      return unsealDataKey(master.key, field.sealedKey, `SSE-S3\0${id}`);
    } catch (err) {
      if (err instanceof KeyUnsealError) throw new S3Error('InternalError', { message: 'The object\'s data key could not be opened.' });
      throw err;
    }
  }

  /** The data key of an SSE-KMS field, opened with the version of its key that sealed it (refused while the key is disabled). */
  private kmsDataKey(field: ObjectEncryption): Buffer {
    const name = field.kmsKeyName ?? '';
    const version = field.kmsKeyVersion ?? 0;
    const material = this.usableKmsKey(name);
    if (version < 1 || version > material.versions) throw new S3Error('InternalError', { message: 'The object\'s data key could not be opened.' });
    const kek = this.kmsKek(name, material, version);
    try {
      return unsealDataKey(kek, field.sealedKey, kmsSealContext(name, version, field.kmsContext));
    } finally {
      kek.fill(0);
    }
  }

  /** The response headers that tell a client how a version is encrypted; `written`: the answer to the write that stored it (which also echoes an encryption context). */
  responseHeaders(field: ObjectEncryption | undefined, request: SseRequest, written = false): Record<string, string> {
    if (field?.kind !== 'SSE-KMS') return sseResponseHeaders(field, request);
    const headers: Record<string, string> = {
      'x-amz-server-side-encryption': 'aws:kms',
      'x-amz-server-side-encryption-aws-kms-key-id': this.kmsKeyArn(field.kmsKeyName ?? ''),
    };
    if (field.bucketKey === true) headers['x-amz-server-side-encryption-bucket-key-enabled'] = 'true';
    if (written && field.kmsContext !== undefined) headers['x-amz-server-side-encryption-context'] = encryptionContextHeader(field.kmsContext);
    return headers;
  }

  /**
   * Re-seals an SSE-S3 field's data key under the current master key (rotation); SSE-C fields and
   * current ones come back unchanged. Deterministic: the seal's nonce is derived from the new key and
   * the old seal, so every node of a set, resealed separately, gets the same record.
   */
  reseal(field: ObjectEncryption): ObjectEncryption {
    const current = this.requireMasterKeys().current;
    if (field.kind !== 'SSE-S3' || field.masterKeyId === current.id) return field;
    const dataKey = this.dataKey(field, { kind: 'none' });
    const nonce = createHmac('sha256', current.key).update('tessera-sse-reseal\0').update(field.sealedKey).digest().subarray(0, 12);
    return { ...field, masterKeyId: current.id, sealedKey: sealDataKey(current.key, dataKey, `SSE-S3\0${current.id}`, nonce) };
  }
}

/** The response headers that tell a client how a version is encrypted (S3 sends them on every read and write). */
export function sseResponseHeaders(field: Pick<ObjectEncryption, 'kind'> | undefined, request: SseRequest): Record<string, string> {
  if (field?.kind === 'SSE-S3') return { 'x-amz-server-side-encryption': 'AES256' };
  if (field?.kind === 'SSE-C' && request.kind === 'SSE-C') {
    return { 'x-amz-server-side-encryption-customer-algorithm': 'AES256', 'x-amz-server-side-encryption-customer-key-md5': request.keyMd5Base64 };
  }
  return {};
}
