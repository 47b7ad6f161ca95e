import Type, { type Static, type TSchema } from 'typebox';

/** What a setting says about itself beyond the values it accepts. */
export interface SettingInfo {
  /** The environment variable that overrides the file. */
  env?: string;
  /** The command-line flag that overrides both, where the role's command has one. */
  flag?: string;
  /** The docs table's cell saying what the setting does; settings without one share another's row. */
  doc?: string;
  /** The docs table's default, where the schema's value needs words ("the listen address"). */
  defaultDoc?: string;
  /** The `<key>File` setting that gives the same secret from a file (shown in the same docs row). */
  fileForm?: string;
  /** The docs table's variables cell, for a setting the environment sets in its own way (credentials). */
  envDoc?: string;
  default?: unknown;
}

/** The parts of a setting's schema that the reader and the docs look at: JSON Schema keywords plus SettingInfo's. */
export interface SettingNode extends SettingInfo {
  type?: string;
  properties?: Record<string, SettingNode>;
  items?: SettingNode;
  anyOf?: SettingNode[];
  const?: unknown;
  minimum?: number;
  maximum?: number;
  /** What the setting accepts, in words, where the type alone does not say it well. */
  expected?: string;
  /** A file path, resolved against the configuration file's directory when the file gives it. */
  path?: boolean;
  /** A list the environment gives comma-separated. */
  list?: boolean;
}

/** Every setting of a role schema with its dotted file key (`erasure.dataShards`), in schema order. */
export function settingsOf(schema: TSchema, prefix = ''): { key: string; node: SettingNode }[] {
  const out: { key: string; node: SettingNode }[] = [];
  for (const [name, node] of Object.entries((schema as SettingNode).properties ?? {})) {
    const key = prefix === '' ? name : `${prefix}.${name}`;
    if (node.type === 'object' && node.env === undefined && node.doc === undefined) out.push(...settingsOf(node, key));
    else out.push({ key, node });
  }
  return out;
}

/** A role schema's defaults, as a value of its type (settings without a default are left out). */
export function defaultsOf<T extends TSchema>(schema: T): Static<T> {
  const value: Record<string, unknown> = {};
  for (const [name, node] of Object.entries((schema as SettingNode).properties ?? {})) {
    if (node.type === 'object') value[name] = defaultsOf(node);
    else if (node.default !== undefined) value[name] = structuredClone(node.default);
  }
  // Every setting with a default is required in the schema and every other one optional, so this is the type.
  return value as Static<T>;
}

/** A setting: `type` with its info added as schema keywords (JSON Schema ignores keywords it does not know). */
export function setting<T extends TSchema, const I extends SettingInfo>(type: T, info: I): T & I {
  return Type.With(type, info) as T & I;
}
