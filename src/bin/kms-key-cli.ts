import { parseArgs } from 'node:util';
import type { Env } from '../common/index.js';
import { KmsKeyAdmin, readMasterKeyFile, type KmsKeyActions, type KmsKeySummary } from '../gateway/index.js';
import { NodeClient } from '../rpc/index.js';
import type { AdminTarget } from './admin-cli.js';
import { adminApiClientFrom, API_CLIENT_OPTIONS } from './admin-api-client.js';
import { KMS_USAGE } from './help.js';

/** Longest wait for one node's answer to a key-record call. */
const NODE_TIMEOUT_MS = 10_000;

type Io = { stdout(s: string): void; stderr(s: string): void };

/** Where `kms key` finds the cluster and, for `create`, the master key file the new key is sealed under, and the region ARNs name. */
export interface KmsKeyTargets {
  resolveTarget(config: string | undefined, data: string | undefined, env: Env): Promise<AdminTarget>;
  keySettings(config: string | undefined, data: string | undefined, env: Env): Promise<{ masterKeyFile: string | undefined; region: string }>;
}

const OPTIONS = { config: { type: 'string' }, data: { type: 'string' }, json: { type: 'boolean' }, ...API_CLIENT_OPTIONS } as const;

/** The text line `list` prints for a key. */
function keyLine(key: KmsKeySummary): string {
  return `${key.name}\t${key.arn}\t${key.state}\tversions ${key.versions}\n`;
}

/**
 * `tessera admin kms key create|list|rotate|disable|enable NAME`: the named SSE-KMS keys of the
 * built-in key service, kept cluster-wide beside users. Through a gateway's admin API with `--endpoint
 * URL` (the gateway seals a new key under its own master key file), else straight to the nodes
 * (`--config`, `--data`; `create` then reads the configuration's master key file). Both run the same
 * key actions (KmsKeyAdmin): `create` makes a random root sealed under the first key of the master key
 * file; `rotate` adds a version (new writes use it, every older version still opens what it sealed); a
 * disabled key refuses every write and read until enabled again.
 */
export async function runKmsKeyCli(args: string[], env: Env, io: Io, targets: KmsKeyTargets): Promise<number> {
  let values: { [K in keyof typeof OPTIONS]?: (typeof OPTIONS)[K]['type'] extends 'boolean' ? boolean | undefined : string | undefined };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args, options: OPTIONS, allowPositionals: true, strict: true }));
    const [verb] = positionals;
    const arity = verb === 'list' ? 1 : verb === 'create' || verb === 'rotate' || verb === 'disable' || verb === 'enable' ? 2 : -1;
    if (positionals.length !== arity) throw new Error(verb === undefined ? 'a kms key command is needed' : `unknown kms key command or arguments: ${positionals.join(' ')}`);
    if (values.endpoint !== undefined && (values.config !== undefined || values.data !== undefined)) throw new Error('--endpoint goes to a gateway; --config and --data to the nodes: give one');
  } catch (err) {
    io.stderr(`${(err as Error).message}\n${KMS_USAGE}`);
    return 2;
  }
  const [verb, name] = positionals as [string, string];
  const say = (text: string, value: unknown): void => io.stdout(values.json === true ? `${JSON.stringify(value, null, 2)}\n` : text);
  let clients: NodeClient[] = [];
  try {
    let actions: KmsKeyActions;
    if (values.endpoint !== undefined) {
      actions = adminApiClientFrom(values, env);
    } else {
      const { masterKeyFile, region } = await targets.keySettings(values.config, values.data, env);
      const target = await targets.resolveTarget(values.config, values.data, env);
      clients = target.nodes.map((node) => new NodeClient({ nodeId: node.id, address: node.address, clusterSecret: target.clusterSecret, connections: 1 }));
      const nodes = clients;
      actions = new KmsKeyAdmin({
        nodes: () => nodes,
        timeoutMs: () => NODE_TIMEOUT_MS,
        region,
        masterKeys: () => {
          if (masterKeyFile === undefined) throw new Error('the configuration names no sseMasterKeyFile');
          return readMasterKeyFile(masterKeyFile);
        },
      });
    }
    switch (verb) {
      case 'list': {
        const keys = await actions.listKmsKeys();
        return (say(keys.map(keyLine).join(''), keys), 0);
      }
      case 'create': {
        const key = await actions.createKmsKey(name);
        return (say(`${key.arn}\n`, key), 0);
      }
      case 'rotate': {
        const key = await actions.rotateKmsKey(name);
        return (say(`${key.name}: version ${key.versions} now seals new writes\n`, key), 0);
      }
      default: {
        const key = await actions.setKmsKeyEnabled(name, verb === 'enable');
        return (say(`${key.name}: ${key.state.toLowerCase()}\n`, key), 0);
      }
    }
  } catch (err) {
    io.stderr(`tessera admin kms key: ${(err as Error).message}\n`);
    return 1;
  } finally {
    await Promise.all(clients.map((client) => client.close()));
  }
}
