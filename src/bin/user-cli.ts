import { parseArgs } from 'node:util';
import { readFile } from 'node:fs/promises';
import { hasCode, type Env } from '../common/index.js';
import { IdentityAdmin, newAccessKeyId, newSecretKey, type IdentityActions } from '../gateway/index.js';
import { NodeClient } from '../rpc/index.js';
import { adminApiClientFrom, API_CLIENT_OPTIONS } from './admin-api-client.js';
import { resolveTarget } from './admin-cli.js';
import { USER_USAGE } from './help.js';

export { newAccessKeyId, newSecretKey };

/** Longest wait for one node's answer to a user-record call. */
const NODE_TIMEOUT_MS = 10_000;

type Io = { stdout(s: string): void; stderr(s: string): void };

/** Prints either the text a person reads or, with --json, the value as one JSON document. */
type Say = (text: string, value: unknown) => void;

function sayFor(io: Io, json: boolean): Say {
  return (text, value) => io.stdout(json ? `${JSON.stringify(value, null, 2)}\n` : text);
}

/** The options of `tessera admin user|key|policy`. */
const USER_OPTIONS = {
  config: { type: 'string' },
  data: { type: 'string' },
  json: { type: 'boolean' },
  ...API_CLIENT_OPTIONS,
} as const;

type UserFlags = { [K in keyof typeof USER_OPTIONS]?: (typeof USER_OPTIONS)[K]['type'] extends 'boolean' ? boolean | undefined : string | undefined };

/** How many arguments each verb takes. */
const ARITY: Record<string, Record<string, number>> = {
  user: { add: 1, list: 0, remove: 1, show: 1 },
  key: { add: 1, remove: 1, list: 1, disable: 1, enable: 1 },
  policy: { set: 2, attach: 2, detach: 2, list: 0, show: 1 },
};

/**
 * `tessera admin user|key|policy ...`: through a gateway's admin API with `--endpoint URL` (signed with
 * the keys of --access-key/--secret-key or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY), else straight to
 * the nodes (`--config`, `--data`: bootstrap and recovery, when no gateway runs). Both run the same
 * identity actions (IdentityAdmin), so both answer alike.
 */
export async function runUserCli(noun: 'user' | 'key' | 'policy', args: string[], env: Env, io: Io): Promise<number> {
  let parsed: { values: UserFlags; positionals: string[] };
  try {
    parsed = parseArgs({ args, options: USER_OPTIONS, allowPositionals: true, strict: true });
    if (parsed.values.endpoint !== undefined && (parsed.values.config !== undefined || parsed.values.data !== undefined)) throw new Error('--endpoint goes to a gateway; --config and --data to the nodes: give one');
  } catch (err) {
    io.stderr(`${(err as Error).message}\n${USER_USAGE}`);
    return 2;
  }
  const [verb, first, second] = parsed.positionals;
  const wanted = verb === undefined ? undefined : ARITY[noun]?.[verb];
  if (wanted === undefined || parsed.positionals.length - 1 !== wanted) {
    io.stderr(USER_USAGE);
    return 2;
  }
  const say = sayFor(io, parsed.values.json === true);
  let clients: NodeClient[] = [];
  try {
    let actions: IdentityActions;
    if (parsed.values.endpoint !== undefined) {
      actions = adminApiClientFrom(parsed.values, env);
    } else {
      const target = await resolveTarget(parsed.values.config, parsed.values.data, env);
      clients = target.nodes.map((node) => new NodeClient({ nodeId: node.id, address: node.address, clusterSecret: target.clusterSecret, connections: 1 }));
      const nodes = clients;
      actions = new IdentityAdmin({ nodes: () => nodes, timeoutMs: () => NODE_TIMEOUT_MS });
    }
    await runVerb(actions, noun, verb as string, first as string, second as string, say);
    return 0;
  } catch (err) {
    io.stderr(`tessera admin ${noun}: ${(err as Error).message}\n`);
    return 1;
  } finally {
    await Promise.all(clients.map((client) => client.close()));
  }
}

/** Runs one verb and prints its answer. */
async function runVerb(actions: IdentityActions, noun: 'user' | 'key' | 'policy', verb: string, first: string, second: string, say: Say): Promise<void> {
  const access = (answer: { accessKeyId: string; secretAccessKey: string }): string => `access key: ${answer.accessKeyId}\nsecret key: ${answer.secretAccessKey}\n`;
  const keyLine = (key: { accessKeyId: string; enabled: boolean; createdMs: number }): string => `${key.accessKeyId}\t${key.enabled ? 'enabled' : 'disabled'}\t${new Date(key.createdMs).toISOString()}\n`;
  const command = `${noun} ${verb}`;
  switch (command) {
    case 'user list': {
      const users = await actions.listUsers();
      return say(users.map((user) => `${user.name}\t${user.canonicalId}\t${user.accessKeyIds.join(',')}\n`).join(''), users);
    }
    case 'user show': {
      const user = await actions.getUser(first);
      return say(`${user.name}\t${user.canonicalId}\npolicies: ${user.policies.join(',')}\n${user.keys.map(keyLine).join('')}`, user);
    }
    case 'user add': {
      const answer = await actions.createUser(first);
      return say(access(answer), answer);
    }
    case 'user remove': {
      const answer = await actions.deleteUser(first);
      return say(`removed user ${answer.user}\n`, answer);
    }
    case 'key add': {
      const answer = await actions.createKey(first);
      return say(access(answer), answer);
    }
    case 'key list': {
      const keys = await actions.listKeys(first);
      return say(keys.map(keyLine).join(''), keys);
    }
    case 'key disable':
    case 'key enable': {
      const answer = await actions.setKeyEnabled(first, verb === 'enable');
      return say(`${verb}d access key ${answer.accessKeyId} of user ${answer.user}\n`, answer);
    }
    case 'key remove': {
      const answer = await actions.deleteKey(first);
      return say(`removed access key ${answer.accessKeyId} of user ${answer.user}\n`, answer);
    }
    case 'policy list': {
      const rows = await actions.listPolicies();
      return say(rows.map((row) => `${row.name}\t${row.kind}\t${row.users.join(',')}\n`).join(''), rows);
    }
    case 'policy show': {
      const policy = await actions.getPolicy(first);
      return say(`${JSON.stringify(policy.document, null, 2)}\n`, policy);
    }
    case 'policy set': {
      const document = await readFile(second, 'utf8');
      try {
        const answer = await actions.putPolicy(first, document);
        return say(`stored policy ${answer.policy}\n`, answer);
      } catch (err) {
        if (hasCode(err, 'MalformedPolicy')) throw new Error(`${second}: ${(err as Error).message}`, { cause: err });
        throw err;
      }
    }
    case 'policy attach': {
      const answer = await actions.attachPolicy(first, second);
      return say(`attached ${answer.policy} to ${answer.user}\n`, answer);
    }
    case 'policy detach': {
      const answer = await actions.detachPolicy(first, second);
      return say(`detached ${answer.policy} from ${answer.user}\n`, answer);
    }
    default:
      throw new Error(`unknown command ${command}`);
  }
}
