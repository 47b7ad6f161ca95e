import { closeSync, fstatSync, openSync, readFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { TesseraError } from './errors.js';

/** Mode bits of others (read, write, execute): never on a secret file. */
const OTHERS = 0o007;
/** Group bits but read: a root-owned secret file may let its group read it, never more. */
const GROUP_BEYOND_READ = 0o030;
/** Every group and others bit: a secret file of any other owner keeps to its owner. */
const GROUP_OR_OTHERS = 0o077;

/** A secret file that group or others can read or change: the message names the file and the chmod that fixes it. */
export class SecretFileError extends TesseraError<'SecretFileExposed'> {
  constructor(message: string) {
    super('SecretFileExposed', message);
  }
}

/** Owner and mode of an opened file, as fstat reports them. */
export interface SecretFileStat {
  mode: number;
  uid: number;
}

/**
 * Why a secret file with this owner and mode must not be read, or undefined when it may. A file is
 * for its owner only (0600, 0400). One exception, as PostgreSQL makes for its TLS key: a file owned by
 * root may also be readable by its group when the service is not root, since only root could have
 * granted that group access and a group is how a non-root service reads what root manages (a
 * Kubernetes Secret volume with fsGroup, systemd's LoadCredential= with an ACL, a key in ssl-cert).
 */
export function secretFileProblem(label: string, path: string, stat: SecretFileStat, euid: number): string | undefined {
  const rootGrantsGroup = stat.uid === 0 && euid !== 0;
  const forbidden = rootGrantsGroup ? OTHERS | GROUP_BEYOND_READ : GROUP_OR_OTHERS;
  if ((stat.mode & forbidden) === 0) return undefined;
  const mode = `0${(stat.mode & 0o777).toString(8).padStart(3, '0')}`;
  const how = (stat.mode & forbidden & 0o044) !== 0 ? 'readable' : 'writable';
  return `${label} ${path} is ${how} by group or others (mode ${mode}); run: chmod ${rootGrantsGroup ? '640' : '600'} ${path}`;
}

function effectiveUid(): number {
  return process.geteuid?.() ?? -1;
}

/**
 * Reads a secret file (a cluster secret, a key, a token) as text, refusing it when group or others
 * could read it (see secretFileProblem); `label` names it in the message ("cluster secret file",
 * "TESSERA_SECRET_KEY_FILE"). The mode is that of the opened file, read through the same descriptor,
 * so a file swapped after the check is never the one read.
 */
export async function readSecretFile(path: string, label: string): Promise<string> {
  const handle = await open(path, 'r');
  try {
    const problem = secretFileProblem(label, path, await handle.stat(), effectiveUid());
    if (problem !== undefined) throw new SecretFileError(problem);
    return await handle.readFile('utf8');
  } finally {
    await handle.close();
  }
}

/**
 * readSecretFile for the configuration parser, which runs once at start and synchronously (every role's
 * settings, and the tests that build them, parse without awaiting): the same rule, the same descriptor.
 */
export function readSecretFileSync(path: string, label: string): string {
  const fd = openSync(path, 'r');
  try {
    const problem = secretFileProblem(label, path, fstatSync(fd), effectiveUid());
    if (problem !== undefined) throw new SecretFileError(problem);
    return readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
}

/**
 * Writes a secret file for its owner only (0600), whatever the umask and whatever mode a file it
 * replaces had: the mode is set on the open descriptor before any secret byte is written.
 * `overwrite` false fails with EEXIST when the file exists.
 */
export async function writeSecretFile(path: string, text: string, options: { overwrite: boolean }): Promise<void> {
  const handle = await open(path, options.overwrite ? 'w' : 'wx', 0o600);
  try {
    await handle.chmod(0o600);
    await handle.writeFile(text);
  } finally {
    await handle.close();
  }
}
