import { isAbsolute, resolve } from 'node:path';
import type { Static, TObject } from 'typebox';
import type { TLocalizedValidationError } from 'typebox/error';
import type { SettingNode } from './setting.js';
import { TesseraError } from './errors.js';
import { SchemaCheck } from './schema-check.js';
import { SecretFileError, readSecretFileSync } from './secret-file.js';

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
  /** Relative paths in the file are relative to this directory (the file's own). */
  baseDir?: string;
  /** Reads secret files (refusing those group or others can read); injectable for tests. `name` is the setting that names the file. */
  readTextFile?: (path: string, name: string) => string;
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

/** Where a value came from: the name to cite when it is wrong, and its layer (3 flag, 2 environment, 1 file, 0 default). */
interface ValueSource {
  name: string;
  rank: number;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A flag's or variable's text as the setting's type: digits as integers, on/off as switches, commas as lists. */
function fromText(node: SettingNode, text: string): unknown {
  if (node.type === 'integer') return /^\d+$/.test(text) ? Number(text) : text;
  if (node.type === 'boolean') {
    const word = text.trim().toLowerCase();
    if (['on', 'true', '1', 'yes'].includes(word)) return true;
    if (['off', 'false', '0', 'no'].includes(word)) return false;
    return text;
  }
  if (node.type === 'array' && node.list === true) return text.split(',').map((s) => s.trim()).filter((s) => s !== '');
  return text;
}

/** Fills the defaults of a list entry's missing fields (a node's zone and weight). */
function fillDefaults(node: SettingNode, entry: unknown): void {
  if (!isObject(entry)) return;
  for (const [name, child] of Object.entries(node.properties ?? {})) {
    if (entry[name] === undefined && child.default !== undefined) entry[name] = structuredClone(child.default);
  }
}

/** What a setting accepts, in words, from its schema. */
function expected(node: SettingNode): string {
  if (node.expected !== undefined) return node.expected;
  if (node.type === 'integer') return `an integer from ${node.minimum} to ${node.maximum}`;
  if (node.anyOf !== undefined) return `one of ${node.anyOf.map((choice) => String(choice.const)).join(', ')}`;
  if (node.type === 'object') return 'an object';
  return `a ${node.type ?? 'value'}`;
}

/** The value cited after "got": only for values that are no secret (numbers, choices, switches, addresses). */
function got(node: SettingNode, value: unknown): string {
  const cites = node.type === 'integer' || node.type === 'boolean' || node.anyOf !== undefined || node.expected === '"host:port"';
  return cites ? `, got ${JSON.stringify(value)}` : '';
}

/**
 * Loads one role's settings as its schema (config-schema.ts) describes them. Each leaf takes the first
 * layer that sets it: the flag its schema names, then its `TESSERA_*` variable, then the file, then its
 * default. The result is validated as a whole against the schema, so an unknown key anywhere, a value of
 * the wrong kind or out of range is refused, and the message names the key as the operator wrote it: the
 * flag, the variable, or the dotted file key. Relative paths from the file resolve against its directory.
 */
export class ConfigReader<T extends TObject> {
  private readonly check: SchemaCheck<T>;
  private readonly input: ConfigInput;
  private readonly readTextFile: (path: string, name: string) => string;
  /** Sources of the leaves that were set, by dotted key. */
  private readonly sources = new Map<string, ValueSource>();
  /** The layered values, as validated. */
  private layered: Record<string, unknown> = {};

  constructor(check: SchemaCheck<T>, input: ConfigInput) {
    this.check = check;
    this.input = input;
    this.readTextFile = input.readTextFile ?? readSecretFileSync;
  }

  /** The validated settings, defaults filled in and paths resolved. */
  read(): Static<T> {
    const document = this.input.document ?? {};
    if (!isObject(document)) throw new ConfigError('configuration must be a JSON object');
    const value = structuredClone(document);
    const root = this.check.schema as SettingNode;
    this.layered = value;
    this.layer(root, value, '');
    if (!this.check.is(value)) throw new ConfigError(this.describeProblem(this.check.errors(value)[0]));
    this.resolvePaths(root, value, '');
    return value;
  }

  /** `key` as the message for a missing value should cite it: the file key, its flag and its variable. */
  describe(key: string): string {
    const node = this.nodeAt(key.split('.'));
    return [key, node?.flag, node?.env].filter((part) => part !== undefined).join(' / ');
  }

  /**
   * A secret given inline (`key`) or as a file to read (`keyFile`, e.g. a mounted Kubernetes or Compose
   * secret); the higher layer wins, and one layer may not set both. Surrounding whitespace of a file
   * (the trailing newline editors add) is dropped.
   */
  secret(key: string, inline: string | undefined, path: string | undefined): string | undefined {
    const inlineSource = this.sources.get(key);
    const file = this.sources.get(`${key}File`);
    if (inlineSource !== undefined && file !== undefined && inlineSource.rank === file.rank) throw new ConfigError(`give ${inlineSource.name} or ${file.name}, not both`);
    if (path === undefined || file === undefined || (inlineSource !== undefined && inlineSource.rank > file.rank)) return inline;
    const secret = this.readFile(path, file.name).trim();
    if (secret === '') throw new ConfigError(`${file.name}: ${path} is empty`);
    return secret;
  }

  /** Reads a secret file the configuration names (a secret, a credentials list); errors name `name`. */
  readFile(path: string, name: string): string {
    try {
      return this.readTextFile(path, name);
    } catch (err) {
      if (err instanceof SecretFileError) throw new ConfigError(err.message);
      throw new ConfigError(`${name}: cannot read ${path}: ${(err as Error).message}`);
    }
  }

  /** Lays flags, variables and defaults over the file's values, leaf by leaf, remembering each one's source. */
  private layer(node: SettingNode, value: Record<string, unknown>, prefix: string): void {
    for (const [name, child] of Object.entries(node.properties ?? {})) {
      const key = prefix === '' ? name : `${prefix}.${name}`;
      if (child.type === 'object') {
        value[name] ??= {};
        const nested = value[name];
        if (isObject(nested)) this.layer(child, nested, key);
        continue;
      }
      const flag = this.input.flags?.[key];
      const fromEnv = child.env === undefined ? undefined : this.input.env?.[child.env];
      if (flag !== undefined) this.set(value, name, key, fromText(child, flag), { name: child.flag ?? `--${key}`, rank: 3 });
      else if (fromEnv !== undefined) this.set(value, name, key, fromText(child, fromEnv), { name: child.env as string, rank: 2 });
      else if (value[name] !== undefined) {
        // The file may spell numbers, switches and lists as the environment does ("8", "off", "a:1,b:2").
        const inFile = value[name];
        if (typeof inFile === 'string') value[name] = fromText(child, inFile);
        this.sources.set(key, { name: key, rank: 1 });
      }
      else if (child.default !== undefined) this.set(value, name, key, structuredClone(child.default), { name: key, rank: 0 });
      const list = value[name];
      if (child.items !== undefined && Array.isArray(list)) for (const entry of list) fillDefaults(child.items, entry);
    }
  }

  private set(value: Record<string, unknown>, name: string, key: string, raw: unknown, source: ValueSource): void {
    value[name] = raw;
    this.sources.set(key, source);
  }

  /** Makes every path absolute: relative ones from the file against its directory, others against the working directory. */
  private resolvePaths(node: SettingNode, value: unknown, key: string, fromFile = false): void {
    if (node.type === 'object' && isObject(value)) {
      for (const [name, child] of Object.entries(node.properties ?? {})) {
        const childKey = key === '' ? name : `${key}.${name}`;
        const inFile = fromFile || this.sources.get(childKey)?.rank === 1;
        const path = value[name];
        if (child.path === true && typeof path === 'string') value[name] = isAbsolute(path) ? path : resolve(inFile ? (this.input.baseDir ?? '.') : '.', path);
        else this.resolvePaths(child, path, childKey, inFile);
      }
    } else if (node.type === 'array' && node.items !== undefined && Array.isArray(value)) {
      for (const entry of value) this.resolvePaths(node.items, entry, key, fromFile);
    }
  }

  /** The message for the first thing wrong: the key as the operator wrote it, and what it must be. */
  private describeProblem(problem: TLocalizedValidationError | undefined): string {
    if (problem === undefined) return `not a valid ${this.check.name}`;
    const parts = problem.instancePath.split('/').slice(1);
    const name = this.citedName(parts);
    if (problem.keyword === 'boolean' && problem.schemaPath.endsWith('/additionalProperties')) return `unknown configuration key ${name}`;
    if (problem.keyword === 'additionalProperties') {
      const [extra] = (problem.params as { additionalProperties?: string[] }).additionalProperties ?? [];
      return `unknown configuration key ${name === '' ? '' : `${name}.`}${extra}`;
    }
    if (problem.keyword === 'required') {
      const [missing] = (problem.params as { requiredProperties?: string[] }).requiredProperties ?? [];
      return `${name === '' ? '' : `${name}.`}${missing} is required`;
    }
    const node = this.nodeAt(parts);
    if (node === undefined) return `${name} ${problem.message}`;
    return `${name} must be ${expected(node)}${got(node, this.valueAt(parts))}`;
  }

  /** A JSON pointer's parts as the operator knows them: `erasure.dataShards`, `credentials[0]`, or the flag or variable that set it. */
  private citedName(parts: readonly string[]): string {
    let name = '';
    let key = '';
    for (const part of parts) {
      if (/^\d+$/.test(part)) {
        // Inside a list entry: nothing below has a source of its own.
        name += `[${part}]`;
        key = '\0';
        continue;
      }
      key = key === '' ? part : `${key}.${part}`;
      const source = this.sources.get(key);
      name = source !== undefined && source.rank > 1 ? source.name : name === '' ? part : `${name}.${part}`;
    }
    return name;
  }

  private nodeAt(parts: readonly string[]): SettingNode | undefined {
    let node: SettingNode | undefined = this.check.schema as SettingNode;
    for (const part of parts) node = /^\d+$/.test(part) ? node?.items : node?.properties?.[part];
    return node;
  }

  /** The value at a JSON pointer's parts, as the layers left it (for the "got" of a message). */
  private valueAt(parts: readonly string[]): unknown {
    let value: unknown = this.layered;
    for (const part of parts) value = (value as Record<string, unknown> | undefined)?.[part];
    return value;
  }
}
