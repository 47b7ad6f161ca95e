import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { masterKeyLine } from '../../src/gateway/index.js';

/** An SSE-C key as the SDK takes it, and the headers S3 expects for it. */
export interface CustomerKey {
  key: Buffer;
  keyBase64: string;
  md5Base64: string;
}

/** A fresh random SSE-C key. */
export function customerKey(): CustomerKey {
  const key = randomBytes(32);
  return { key, keyBase64: key.toString('base64'), md5Base64: createHash('md5').update(key).digest('base64') };
}

/** The SSE-C request headers of `key` (for raw requests), under `prefix` (a copy source's prefix for its key). */
export function customerKeyHeaders(key: CustomerKey, prefix = 'x-amz-server-side-encryption-customer-'): Record<string, string> {
  return { [`${prefix}algorithm`]: 'AES256', [`${prefix}key`]: key.keyBase64, [`${prefix}key-md5`]: key.md5Base64 };
}

/** Writes a master key file with one new key in a temp directory; returns its path and a cleanup. */
export async function masterKeyFile(): Promise<{ path: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-mk-'));
  const path = join(dir, 'master-keys');
  await writeFile(path, masterKeyLine(randomBytes(32)), { mode: 0o600 });
  return { path, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** Every regular file under `dir`, recursively. */
export async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await filesUnder(path)));
    else if (entry.isFile()) out.push(path);
  }
  return out;
}

/** The files under `dir` (shard files, LevelDB tables and logs) whose bytes contain `needle`. */
export async function filesContaining(dir: string, needle: Uint8Array): Promise<string[]> {
  const found: string[] = [];
  for (const path of await filesUnder(dir)) {
    const bytes = await readFile(path).catch(() => undefined);
    if (bytes !== undefined && bytes.indexOf(needle) !== -1) found.push(path);
  }
  return found;
}
