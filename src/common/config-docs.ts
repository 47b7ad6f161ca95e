import { GatewaySettings, NodeSettings } from './config-schema.js';
import { settingsOf, type SettingNode } from './setting.js';

/**
 * The settings table of deploy/README.md, printed from the role schemas: variable, file key, role,
 * accepted values, default and meaning of every setting. A test keeps the README's copy equal to it.
 */

const KIB = 1024;
const MIB = 1024 * KIB;
const DURATIONS: readonly [number, string][] = [
  [24 * 60 * 60 * 1000, 'd'],
  [60 * 60 * 1000, 'h'],
  [60 * 1000, 'min'],
  [1000, 's'],
];

/** Milliseconds in the largest unit that divides them ("10 min", "7 d"). */
function duration(ms: number): string {
  const found = DURATIONS.find(([unit]) => ms >= unit && ms % unit === 0);
  return found === undefined ? `${ms} ms` : `${ms / found[0]} ${found[1]}`;
}

/** Bytes in the largest binary unit that divides them ("64 MiB"). */
function size(bytes: number): string {
  if (bytes >= MIB && bytes % MIB === 0) return `${bytes / MIB} MiB`;
  if (bytes >= KIB && bytes % KIB === 0) return `${bytes / KIB} KiB`;
  return `${bytes}`;
}

/** A value of a setting, in the unit its key names. */
function shown(key: string, value: unknown): string {
  if (typeof value === 'boolean') return value ? '`on`' : '`off`';
  if (typeof value !== 'number') return `\`${String(value)}\``;
  if (value === 0) return '0';
  if (key.endsWith('Ms')) return duration(value);
  if (key.endsWith('BytesPerSecond')) return `${size(value)}/s`;
  if (key.endsWith('Bytes')) return size(value);
  return String(value);
}

/** What a setting accepts, from its schema. */
function values(key: string, node: SettingNode): string {
  if (node.type === 'integer') {
    const { minimum = 0, maximum = Number.MAX_SAFE_INTEGER } = node;
    return maximum === Number.MAX_SAFE_INTEGER ? `${shown(key, minimum)} or more` : `${shown(key, minimum)} to ${shown(key, maximum)}`;
  }
  if (node.type === 'boolean') return '`on`, `off`';
  if (node.anyOf !== undefined) return node.anyOf.map((choice) => `\`${String(choice.const)}\``).join(', ');
  if (node.expected === '"host:port"') return '`host:port`';
  if (node.list === true) return node.items?.expected === '"host:port"' ? '`host:port,...`' : '`a,b,...`';
  if (node.type === 'array') return 'list';
  return node.path === true ? 'path' : 'text';
}

type Role = 'node' | 'gateway';
const ROLES = [['node', NodeSettings], ['gateway', GatewaySettings]] as const;

/** One row: a setting as each role that reads it describes it (both read shared ones under one variable). */
interface Row {
  key: string;
  byRole: Map<Role, SettingNode>;
}

function rowsOf(): Row[] {
  const rows = new Map<string, Row>();
  for (const [role, schema] of ROLES) {
    for (const { key, node } of settingsOf(schema)) {
      if (node.doc === undefined) continue;
      const row = rows.get(key) ?? { key, byRole: new Map() };
      row.byRole.set(role, node);
      rows.set(key, row);
    }
  }
  const both = [...rows.values()].filter((row) => row.byRole.size === 2);
  return [...both, ...[...rows.values()].filter((row) => row.byRole.size === 1)];
}

/** A setting's own cells and its file form's (`clusterSecretFile`), in one role. */
function forms(role: Role, node: SettingNode): SettingNode[] {
  const schema = role === 'node' ? NodeSettings : GatewaySettings;
  const fileForm = settingsOf(schema).find((s) => s.key === node.fileForm)?.node;
  return fileForm === undefined ? [node] : [node, fileForm];
}

/** Each distinct value of `pick` across the row's roles, marked with its role where the roles differ. */
function perRole(row: Row, pick: (role: Role, node: SettingNode) => string[]): string[] {
  const found = [...row.byRole].map(([role, node]) => [role, pick(role, node)] as const);
  const all = [...new Set(found.flatMap(([, items]) => items))];
  return all.map((item) => {
    const holders = found.filter(([, items]) => items.includes(item));
    return holders.length === found.length ? item : `${item} (${holders.map(([role]) => role).join(', ')})`;
  });
}

function cells(row: Row): string[] {
  const { key } = row;
  const [, node] = [...row.byRole][0] as [Role, SettingNode];
  const file = node.fileForm === undefined ? `\`${key}\`` : `\`${key}\` / \`${node.fileForm}\``;
  const envs = perRole(row, (role, n) => forms(role, n).flatMap((form) => (form.env === undefined ? [] : [`\`${form.env}\``])));
  const flags = perRole(row, (role, n) => forms(role, n).flatMap((form) => (form.flag === undefined ? [] : [`\`${form.flag}\``])));
  const defaults = perRole(row, (_role, n) => (n.default === undefined ? [] : [shown(key, n.default)]));
  return [
    node.envDoc ?? envs.join(' / '),
    flags.length === 0 ? file : `${file}; flag ${flags.join(', ')}`,
    row.byRole.size === 2 ? 'both' : ([...row.byRole.keys()][0] ?? ''),
    values(key, node),
    node.defaultDoc ?? defaults.join(', '),
    node.doc ?? '',
  ];
}

/** The settings table as Markdown. */
export function settingsTable(): string {
  const header = ['variable', 'file key', 'role', 'values', 'default', 'meaning'];
  const lines = [header, header.map(() => '---'), ...rowsOf().map(cells)].map((row) => `| ${row.join(' | ')} |`.replace(/ {2,}\|/g, ' |'));
  return `${lines.join('\n')}\n`;
}
