import { CREDENTIAL_ENV, GATEWAY_ENV, NODE_ENV } from '../../src/common/index.js';

/** A parsed YAML mapping. */
export type Obj = Record<string, unknown>;

/** The process roles deploy/ runs. */
export type Role = 'node' | 'gateway';

/** The assertions the deploy checks make (a tap test satisfies it). */
export interface Checks {
  ok(value: unknown, message: string): unknown;
  notOk(value: unknown, message: string): unknown;
  equal(found: unknown, wanted: unknown, message: string): unknown;
  same(found: unknown, wanted: unknown, message: string): unknown;
  match(found: unknown, pattern: unknown, message: string): unknown;
  doesNotThrow(fn: () => void, message: string): unknown;
}

/** The TESSERA_* variables a role reads, from the same tables its parser uses. */
export function roleEnv(role: Role): Set<string> {
  return role === 'node' ? new Set(Object.values(NODE_ENV)) : new Set([...Object.values(GATEWAY_ENV), ...Object.values(CREDENTIAL_ENV)]);
}
