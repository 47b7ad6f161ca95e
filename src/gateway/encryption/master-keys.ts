import { createHash } from 'node:crypto';
import { TesseraError, readSecretFile } from '../../common/index.js';
import { DATA_KEY_BYTES } from './package-format.js';

/** The master key file is unusable: the message says which line and why. */
export class MasterKeyFileError extends TesseraError<'MasterKeyFileInvalid'> {
  constructor(message: string) {
    super('MasterKeyFileInvalid', message);
  }
}

/** One master key: its id (stored beside every data key it seals) and its 32 bytes. */
export interface MasterKey {
  id: string;
  key: Buffer;
}

/**
 * The cluster's SSE-S3 master keys, as the master key file lists them: one key a line, `<id> <base64 of
 * 32 bytes>`, `#` starts a comment. The first key seals new data keys; every listed key still opens
 * what it sealed, so a new key goes first and an old one stays listed until nothing is sealed under it.
 */
export class MasterKeyring {
  readonly current: MasterKey;
  private readonly byId: ReadonlyMap<string, MasterKey>;

  constructor(keys: readonly MasterKey[]) {
    const [current] = keys;
    if (current === undefined) throw new MasterKeyFileError('the master key file lists no key');
    this.current = current;
    this.byId = new Map(keys.map((k) => [k.id, k]));
    if (this.byId.size !== keys.length) throw new MasterKeyFileError('the master key file lists a key id twice');
  }

  /** The master key with this id, or undefined. */
  get(id: string): MasterKey | undefined {
    return this.byId.get(id);
  }

  /** Ids of every key, the current one first. */
  ids(): string[] {
    return [...this.byId.keys()];
  }

  /** Parses the text of a master key file. */
  static parse(text: string): MasterKeyring {
    const keys: MasterKey[] = [];
    for (const [i, raw] of text.split('\n').entries()) {
      const line = raw.replace(/#.*/, '').trim();
      if (line === '') continue;
      const match = /^([A-Za-z0-9._-]{1,64})\s+([A-Za-z0-9+/]+={0,2})$/.exec(line);
      const key = match === null ? undefined : Buffer.from(match[2] as string, 'base64');
      if (match === null || key === undefined || key.length !== DATA_KEY_BYTES) {
        throw new MasterKeyFileError(`master key file line ${i + 1}: expected "<id> <base64 of ${DATA_KEY_BYTES} bytes>"`);
      }
      keys.push({ id: match[1] as string, key });
    }
    return new MasterKeyring(keys);
  }
}

/** A master key file line for `key`, its id derived from the key (so two files never give one id two keys). */
export function masterKeyLine(key: Uint8Array): string {
  const id = `mk-${createHash('sha256').update('tessera-master-key-id\0').update(key).digest('hex').slice(0, 16)}`;
  return `${id} ${Buffer.from(key).toString('base64')}\n`;
}

/** Reads the master key file, refusing one that group or others can read (it holds every SSE-S3 key). */
export async function readMasterKeyFile(path: string): Promise<MasterKeyring> {
  return MasterKeyring.parse(await readSecretFile(path, 'master key file'));
}
