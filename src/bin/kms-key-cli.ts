import { parseArgs } from 'node:util';
import { HybridClock, type Env } from '../common/index.js';
import { DEFAULT_KMS_KEY, KMS_KEY_NAME, kmsKeyArn, newKmsKeyMaterial, readMasterKeyFile } from '../gateway/index.js';
import { KMS_KEY_RECORD_PREFIX, NodeClient, readUserRecords, writeUserRecord, type UserRecord } from '../rpc/index.js';
import type { AdminTarget } from './admin-cli.js';
import { KMS_USAGE } from './help.js';

/** Longest wait for one node's answer to a key-record call. */
const NODE_TIMEOUT_MS = 10_000;

type Io = { stdout(s: string): void; stderr(s: string): void };

/** Where `kms key` finds the cluster and, for `create`, the master key file the new key is sealed under, and the region ARNs name. */
export interface KmsKeyTargets {
  resolveTarget(config: string | undefined, data: string | undefined, env: Env): Promise<AdminTarget>;
  keySettings(config: string | undefined, data: string | undefined, env: Env): Promise<{ masterKeyFile: string | undefined; region: string }>;
}

/** One key as `list` shows it; never its material. */
function describe(name: string, record: UserRecord & { kms: NonNullable<UserRecord['kms']> }, region: string): Record<string, string | number | boolean> {
  return {
    name,
    arn: kmsKeyArn(region, name),
    state: record.kms.disabled ? 'Disabled' : 'Enabled',
    versions: record.kms.versions,
    createdMs: record.createdMs,
    rotatedMs: record.kms.rotatedMs,
  };
}

/**
 * `tessera admin kms key create|list|rotate|disable|enable NAME`: the named SSE-KMS keys of the
 * built-in key service, kept cluster-wide beside users. `create` makes a random root sealed under the
 * first key of the master key file; `rotate` adds a version (new writes use it, every older version
 * still opens what it sealed); a disabled key refuses every write and read until enabled again.
 */
export async function runKmsKeyCli(args: string[], env: Env, io: Io, targets: KmsKeyTargets): Promise<number> {
  let values: { config?: string | undefined; data?: string | undefined; json?: boolean | undefined };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args, options: { config: { type: 'string' }, data: { type: 'string' }, json: { type: 'boolean' } }, allowPositionals: true, strict: true }));
    const [verb] = positionals;
    const arity = verb === 'list' ? 1 : verb === 'create' || verb === 'rotate' || verb === 'disable' || verb === 'enable' ? 2 : -1;
    if (positionals.length !== arity) throw new Error(verb === undefined ? 'a kms key command is needed' : `unknown kms key command or arguments: ${positionals.join(' ')}`);
  } catch (err) {
    io.stderr(`${(err as Error).message}\n${KMS_USAGE}`);
    return 2;
  }
  const [verb, name] = positionals as [string, string | undefined];
  const json = values.json === true;
  const say = (text: string, value: unknown): void => io.stdout(json ? `${JSON.stringify(value, null, 2)}\n` : text);
  let clients: NodeClient[] = [];
  try {
    // The default key is made by the gateways on first use; it can be rotated, disabled and enabled, not created.
    if (name !== undefined && !KMS_KEY_NAME.test(name) && (verb === 'create' || name !== DEFAULT_KMS_KEY)) {
      throw new Error(`invalid key name ${JSON.stringify(name)}: 1-64 characters of A-Z a-z 0-9 _ -`);
    }
    const { masterKeyFile, region } = await targets.keySettings(values.config, values.data, env);
    // Read before any node is asked, so a missing or open master key file costs nothing.
    if (verb === 'create' && masterKeyFile === undefined) throw new Error('the configuration names no sseMasterKeyFile: a key is sealed under it');
    const masterKeys = verb === 'create' ? await readMasterKeyFile(masterKeyFile as string) : undefined;
    const target = await targets.resolveTarget(values.config, values.data, env);
    clients = target.nodes.map((node) => new NodeClient({ nodeId: node.id, address: node.address, clusterSecret: target.clusterSecret, connections: 1 }));
    const records = await readUserRecords(clients, NODE_TIMEOUT_MS);
    const clock = new HybridClock();
    for (const record of records.values()) clock.observe(record.versionId);
    const write = (record: UserRecord): Promise<void> => writeUserRecord(clients, record, NODE_TIMEOUT_MS);
    if (verb === 'list') {
      const rows = [...records.values()]
        .filter((r): r is UserRecord & { kms: NonNullable<UserRecord['kms']> } => !r.deleted && r.name.startsWith(KMS_KEY_RECORD_PREFIX) && r.kms !== undefined)
        .sort((a, b) => (a.name < b.name ? -1 : 1))
        .map((r) => describe(r.name.slice(KMS_KEY_RECORD_PREFIX.length), r, region));
      say(rows.map((row) => `${String(row['name'])}\t${String(row['arn'])}\t${String(row['state'])}\tversions ${String(row['versions'])}\n`).join(''), rows);
      return 0;
    }
    const keyName = name as string;
    const recordName = KMS_KEY_RECORD_PREFIX + keyName;
    const current = records.get(recordName);
    if (verb === 'create') {
      if (current !== undefined && !current.deleted) throw new Error(`kms key ${keyName} already exists`);
      const kms = newKmsKeyMaterial(masterKeys!.current, keyName, clock.nowMs());
      const record: UserRecord = { name: recordName, versionId: clock.next(), deleted: false, canonicalId: '', createdMs: clock.nowMs(), keys: [], kms };
      await write(record);
      say(`${kmsKeyArn(region, keyName)}\n`, describe(keyName, { ...record, kms }, region));
      return 0;
    }
    if (current === undefined || current.deleted || current.kms === undefined) throw new Error(`no kms key ${keyName}`);
    const kms =
      verb === 'rotate'
        ? { ...current.kms, versions: current.kms.versions + 1, rotatedMs: clock.nowMs() }
        : { ...current.kms, disabled: verb === 'disable' };
    const record = { ...current, versionId: clock.next(), kms };
    await write(record);
    const row = describe(keyName, record, region);
    say(verb === 'rotate' ? `${keyName}: version ${kms.versions} now seals new writes\n` : `${keyName}: ${String(row['state']).toLowerCase()}\n`, row);
    return 0;
  } catch (err) {
    io.stderr(`tessera admin kms key: ${(err as Error).message}\n`);
    return 1;
  } finally {
    await Promise.all(clients.map((client) => client.close()));
  }
}
