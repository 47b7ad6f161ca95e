import { availablePackageCiphers, loadNativePackageCipher, type PackageCipher } from '../../../src/gateway/encryption/index.js';

/**
 * The AES-256-GCM backends the package-format suites run against: node:crypto always, the native addon
 * where it is built. Under CI the addon must be there (aes-backends.test.ts fails otherwise), so no
 * suite passes there on node:crypto alone by accident.
 */
export const BACKENDS: readonly PackageCipher[] = availablePackageCiphers();

/** Why the native backend is missing from BACKENDS, or undefined when it is in. */
export function nativeMissing(): string | undefined {
  const native = loadNativePackageCipher();
  return 'reason' in native ? native.reason : undefined;
}

/** Yields `bytes` cut at the given piece sizes, used in turn. */
export async function* cut(bytes: Uint8Array, sizes: readonly number[]): AsyncGenerator<Uint8Array> {
  let turn = 0;
  for (let at = 0; at < bytes.length; turn += 1) {
    const n = Math.max(1, sizes[turn % sizes.length] ?? 1);
    yield bytes.subarray(at, Math.min(bytes.length, at + n));
    at += n;
  }
}
