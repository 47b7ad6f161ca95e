import { TesseraError } from '../../common/index.js';
import { NATIVE_ADDON_PATH, loadNativePackageCipher } from './native-package-cipher.js';
import { nodePackageCipher, type AesBackend, type PackageCipher } from './package-cipher.js';

/** How a gateway asks for its AES-256-GCM: `auto` takes the native addon where it loads and passes its self-test. */
export type AesBackendChoice = 'auto' | AesBackend;

/** A forced AES backend cannot run here. */
export class AesBackendUnavailableError extends TesseraError<'AesBackendUnavailable'> {
  constructor(message: string) {
    super('AesBackendUnavailable', message);
  }
}

/** The cipher a choice resolved to, and why `auto` fell back to node:crypto when it did. */
export interface ResolvedPackageCipher {
  cipher: PackageCipher;
  fallbackReason?: string;
}

/** Resolves a backend choice: `auto` falls back to node:crypto, a forced `native` that cannot run throws. */
export function resolvePackageCipher(choice: AesBackendChoice, addonPath: string = NATIVE_ADDON_PATH): ResolvedPackageCipher {
  if (choice === 'node') return { cipher: nodePackageCipher() };
  const native = loadNativePackageCipher(addonPath);
  if ('cipher' in native) return { cipher: native.cipher };
  if (choice === 'native') throw new AesBackendUnavailableError(`the native AES-GCM backend cannot run: ${native.reason}`);
  return { cipher: nodePackageCipher(), fallbackReason: native.reason };
}

/** Every backend that runs here, node:crypto (the reference) first. */
export function availablePackageCiphers(): PackageCipher[] {
  const native = loadNativePackageCipher();
  return 'cipher' in native ? [nodePackageCipher(), native.cipher] : [nodePackageCipher()];
}
