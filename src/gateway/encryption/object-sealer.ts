import { createHmac, randomBytes } from 'node:crypto';
import type { ObjectEncryption } from '../../rpc/index.js';
import { S3Error } from '../s3/index.js';
import { customerKeyDigest, customerKeyMatches, KeyUnsealError, sealDataKey, unsealDataKey } from './key-sealing.js';
import type { MasterKeyring } from './master-keys.js';
import type { PackageCipher } from './package-cipher.js';
import { DATA_KEY_BYTES, OBJECT_NONCE_BYTES, PackageEncryptor, decryptRange, storedSize } from './package-format.js';
import type { SseRequest } from './sse-request.js';

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
  /** The AES-256-GCM implementation bodies are sealed and opened with. */
  readonly cipher: PackageCipher;

  constructor(options: { masterKeys: MasterKeyring | undefined; cipher: PackageCipher }) {
    this.masterKeys = options.masterKeys;
    this.cipher = options.cipher;
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
    const master = this.requireMasterKeys().current;
    return { dataKey, field: { kind: 'SSE-S3', sealedKey: sealDataKey(master.key, dataKey, `SSE-S3\0${master.id}`), masterKeyId: master.id } };
  }

  private requireMasterKeys(): MasterKeyring {
    if (this.masterKeys === undefined) {
      throw new S3Error('NotImplemented', { message: 'Server-side encryption with AES256 needs a master key file (sseMasterKeyFile), and this gateway has none.' });
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
      // SSE-S3 keeps S3's MD5 ETag; an SSE-C ETag is not the MD5 (as in S3), so it cannot confirm a guess of the plaintext.
      etagOf: (md5Hex) => (kind === 'SSE-C' ? createHmac('sha256', key.dataKey).update('tessera-sse-c-etag\0').update(md5Hex).digest('hex').slice(0, 32) : md5Hex),
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
