import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { TesseraError } from './errors.js';

/** A configuration value that is missing or wrong; the message names the key (or variable, or flag). */
export class ConfigError extends TesseraError<'InvalidConfig'> {
  constructor(message: string) {
    super('InvalidConfig', message);
  }
}

/** Environment variables as src/bin passes them in. */
export type Env = Readonly<Record<string, string | undefined>>;

/** Where a process's configuration comes from, lowest precedence last: flags, environment, file, defaults. */
export interface ConfigInput {
  /** The parsed configuration file (a JSON object), or {} when there is none. */
  document?: unknown;
  env?: Env;
  /** Command-line values by dotted file key (`listen`, `dataDir`); undefined entries are ignored. */
  flags?: Readonly<Record<string, string | undefined>>;
  /** Flag spelling per dotted key, for error messages (`dataDir` -> `--data`). */
  flagNames?: Readonly<Record<string, string>>;
  /** Relative paths in the file are relative to this directory (the file's own). */
  baseDir?: string;
  /** Reads secret files; injectable for tests. */
  readTextFile?: (path: string) => string;
}

/** One raw value and the name to cite when it is wrong. */
interface Raw {
  value: unknown;
  name: string;
  /** 3 = flag, 2 = environment, 1 = file: the higher wins. */
  rank: number;
}

/** "host:port" (port 0 = any free port). */
export interface ListenAddress {
  host: string;
  port: number;
}

/** Parses "host:port" (port 0 = any free port); IPv6 hosts may be bracketed. */
export function parseListen(value: unknown, key: string): ListenAddress {
  if (typeof value !== 'string') throw new ConfigError(`${key} must be "host:port"`);
  const match = /^(.+):(\d{1,5})$/.exec(value);
  const port = match === null ? Number.NaN : Number(match[2]);
  if (match === null || port > 65535) throw new ConfigError(`${key} must be "host:port", got ${JSON.stringify(value)}`);
  return { host: (match[1] as string).replace(/^\[(.*)\]$/, '$1'), port };
}

/** An integer in [min, max]; digit strings (from the environment or flags) are accepted. */
export function parseInteger(value: unknown, key: string, min: number, max: number): number {
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new ConfigError(`${key} must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`);
  }
  return n;
}

/** A non-empty string. */
export function parseText(value: unknown, key: string): string {
  if (typeof value !== 'string' || value === '') throw new ConfigError(`${key} must be a non-empty string`);
  return value;
}

/** One of a fixed set of strings. */
export function parseChoice<T extends string>(value: unknown, key: string, choices: readonly T[]): T {
  if (typeof value === 'string' && (choices as readonly string[]).includes(value)) return value as T;
  throw new ConfigError(`${key} must be one of ${choices.join(', ')}, got ${JSON.stringify(value)}`);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Rejects keys of `entry` (an element of a list such as credentials[0]) outside `known`. */
export function checkEntryKeys(entry: unknown, where: string, known: readonly string[]): Record<string, unknown> {
  if (!isObject(entry)) throw new ConfigError(`${where} must be an object`);
  for (const name of Object.keys(entry)) {
    if (!known.includes(name)) throw new ConfigError(`unknown configuration key ${where}.${name} (known: ${known.join(', ')})`);
  }
  return entry;
}

/**
 * Reads one role's values by dotted key, each from the first layer that has it (flag, then the
 * environment variable the role's table names, then the file), and remembers which file keys it
 * consumed, so `finish()` can reject every key nobody asked for: declaring a key and reading it are
 * the same act, and no separate list of known keys can drift.
 */
export class ConfigReader {
  private readonly document: Record<string, unknown>;
  private readonly env: Env;
  private readonly envNames: Readonly<Record<string, string>>;
  private readonly flags: Readonly<Record<string, string | undefined>>;
  private readonly flagNames: Readonly<Record<string, string>>;
  private readonly baseDir: string | undefined;
  private readonly readTextFile: (path: string) => string;
  private readonly consumed = new Set<string>();

  constructor(input: ConfigInput, envNames: Readonly<Record<string, string>>) {
    const document = input.document ?? {};
    if (!isObject(document)) throw new ConfigError('configuration must be a JSON object');
    this.document = document;
    this.env = input.env ?? {};
    this.envNames = envNames;
    this.flags = input.flags ?? {};
    this.flagNames = input.flagNames ?? {};
    this.baseDir = input.baseDir;
    this.readTextFile = input.readTextFile ?? ((path) => readFileSync(path, 'utf8'));
  }

  /** The raw value of `key` from the highest layer that sets it, or undefined. */
  raw(key: string): Raw | undefined {
    this.consumed.add(key);
    const flag = this.flags[key];
    if (flag !== undefined) return { value: flag, name: this.flagNames[key] ?? `--${key}`, rank: 3 };
    const envName = this.envNames[key];
    const fromEnv = envName === undefined ? undefined : this.env[envName];
    if (envName !== undefined && fromEnv !== undefined) return { value: fromEnv, name: envName, rank: 2 };
    const fromFile = this.fileValue(key);
    return fromFile === undefined ? undefined : { value: fromFile, name: key, rank: 1 };
  }

  /** `parse(raw)` when `key` is set anywhere, else `fallback`. */
  value<T>(key: string, fallback: T, parse: (value: unknown, name: string) => T): T {
    const raw = this.raw(key);
    return raw === undefined ? fallback : parse(raw.value, raw.name);
  }

  /** A required value: a missing one is an error naming the key and its environment variable. */
  required<T>(key: string, parse: (value: unknown, name: string) => T): T {
    const raw = this.raw(key);
    if (raw === undefined) throw new ConfigError(`${this.describe(key)} is required`);
    return parse(raw.value, raw.name);
  }

  /** A file path; relative paths from the file resolve against its directory, others against the working directory. */
  path(key: string): string | undefined {
    const raw = this.raw(key);
    if (raw === undefined) return undefined;
    const text = parseText(raw.value, raw.name);
    return isAbsolute(text) ? text : resolve(raw.rank === 1 ? (this.baseDir ?? '.') : '.', text);
  }

  /**
   * A secret given inline (`key`) or as a file to read (`keyFile`, e.g. a mounted Kubernetes or
   * Compose secret); the higher layer wins, and one layer may not set both. Surrounding whitespace
   * of a file (the trailing newline editors add) is dropped.
   */
  secret(key: string): string | undefined {
    const inline = this.raw(key);
    const file = this.raw(`${key}File`);
    if (inline !== undefined && file !== undefined && inline.rank === file.rank) {
      throw new ConfigError(`give ${inline.name} or ${file.name}, not both`);
    }
    if (file === undefined || (inline !== undefined && inline.rank > file.rank)) {
      return inline === undefined ? undefined : parseText(inline.value, inline.name);
    }
    const path = this.path(`${key}File`) as string;
    let text: string;
    try {
      text = this.readTextFile(path);
    } catch (err) {
      throw new ConfigError(`${file.name}: cannot read ${path}: ${(err as Error).message}`);
    }
    const secret = text.trim();
    if (secret === '') throw new ConfigError(`${file.name}: ${path} is empty`);
    return secret;
  }

  /** A path written inside the configuration file, made absolute against the file's directory. */
  resolveFromFile(path: string): string {
    return isAbsolute(path) ? path : resolve(this.baseDir ?? '.', path);
  }

  /** Reads another file named by the configuration (such as a credentials list); errors name `name`. */
  readFile(path: string, name: string): string {
    try {
      return this.readTextFile(path);
    } catch (err) {
      throw new ConfigError(`${name}: cannot read ${path}: ${(err as Error).message}`);
    }
  }

  /** `key` as the message for a missing value should cite it: the file key and its variable. */
  describe(key: string): string {
    const envName = this.envNames[key];
    const flagName = this.flagNames[key];
    return [key, ...(flagName === undefined ? [] : [flagName]), ...(envName === undefined ? [] : [envName])].join(' / ');
  }

  /** Rejects file keys nobody read, and objects where a value was expected (or the reverse). */
  finish(): void {
    const visit = (value: Record<string, unknown>, prefix: string): void => {
      for (const [name, child] of Object.entries(value)) {
        const key = prefix === '' ? name : `${prefix}.${name}`;
        if (this.consumed.has(key)) continue;
        const nested = [...this.consumed].some((used) => used.startsWith(`${key}.`));
        if (nested && isObject(child)) visit(child, key);
        else if (nested) throw new ConfigError(`${key} must be an object`);
        else throw new ConfigError(`unknown configuration key ${key}`);
      }
    };
    visit(this.document, '');
  }

  private fileValue(key: string): unknown {
    let value: unknown = this.document;
    for (const part of key.split('.')) {
      if (!isObject(value)) return undefined;
      value = value[part];
    }
    return value;
  }
}
