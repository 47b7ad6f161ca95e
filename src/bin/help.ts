import { ADMIN_USAGE, KMS_USAGE } from './admin-cli.js';
import { CLUSTER_USAGE, PUSH_USAGE } from './cluster-cli.js';
import { CONFIG_USAGE } from './config-cli.js';
import { RING_USAGE } from './ring-cli.js';
import { USER_USAGE } from './user-cli.js';

/** Usage text of `tessera`: every command in a line or three. */
export const TESSERA_USAGE = `usage: tessera <command> [options]

commands:
  dev       [--data DIR] [--listen HOST:PORT] [--nodes N] [--node-threads N] [--log-format auto|pretty|json]
                                                           embedded gateway + storage nodes (default ./data, 127.0.0.1:9000;
                                                           nodes run in one thread per core but the gateway's, 0 = on its thread;
                                                           beyond loopback only with TESSERA_ACCESS_KEY + TESSERA_SECRET_KEY(_FILE))
  node      [--config FILE] [--data DIR] [--listen HOST:PORT] [--id ID] [--secret-file FILE]
                                                           one storage node (default listen 127.0.0.1:9100)
  gateway   [--config FILE] [--listen HOST:PORT] [--workers N|auto]
                                                           one S3 gateway (SIGHUP: look for a newer ring, reload TLS);
                                                           --workers: that many processes on one address
  cluster   init --node SPEC... [--push]                   a cluster secret, the first ring, a gateway config
  ring      create|add|remove|reweight|show|diff|locate|push
                                                           ring files; push hands a ring to every node
  config    check [FILE] [--role gateway|node]            validate a configuration without starting anything
  admin     status|scrub|heal [--config FILE] [--fast] [--watch] [--wait] [--json]
                                                           background work per node: scrub, repair, audit, rebalance;
                                                           heal --wait follows a pass to its end, status --watch repeats
  admin     object BUCKET KEY [--version ID] [--json]      where each shard of an object is, its health, and what losing each node means
  admin     kms rotate [--config FILE]                     re-seal every SSE-S3 data key under the master key file's first key
  admin     user add|list|remove, key add|remove           users and access keys, stored on the nodes
  admin     policy set|attach|detach|list                  identity policies for users (readonly, readwrite, writeonly built in)
  healthcheck [URL]                                        exit 0 when the local node or gateway is healthy

Settings come from flags, then TESSERA_* environment variables, then the --config JSON file, then
defaults. Secrets may be files: clusterSecretFile / TESSERA_CLUSTER_SECRET_FILE, credentialsFile,
TESSERA_SECRET_KEY_FILE. See deploy/README.md.
`;

/** Usage text of `tessera dev`. */
export const DEV_USAGE = `usage: tessera dev [--data DIR] [--listen HOST:PORT] [--nodes N] [--node-threads N] [--log-format auto|pretty|json]

  One gateway and N storage nodes (default 6) in this process, each node on its own loopback port and
  directory under DIR; prints the endpoint and credentials once it listens. Ctrl-C stops it.

  --data DIR          data directory (TESSERA_DATA_DIR, default ./data)
  --listen HOST:PORT  the gateway's address (TESSERA_LISTEN, default 127.0.0.1:9000; port 0 picks a free one);
                      beyond loopback only with TESSERA_ACCESS_KEY + TESSERA_SECRET_KEY(_FILE)
  --nodes N           storage nodes (default 6: 4 data + 2 parity shards)
  --node-threads N    worker threads hosting the nodes (default one per core but the gateway's; 0 = its thread)
  --log-format F      auto (pretty on a terminal), pretty or json (TESSERA_LOG_FORMAT)

  Logs show warnings and errors; TESSERA_LOG_LEVEL=info (or debug) shows each node's and the gateway's own lines.
`;

/** Usage text of `tessera node`. */
export const NODE_USAGE = `usage: tessera node [--config FILE] [--data DIR] [--listen HOST:PORT] [--id ID] [--secret-file FILE]

  One storage node (default listen 127.0.0.1:9100). Settings come from flags, then TESSERA_* environment
  variables, then the --config JSON file, then defaults; see deploy/README.md.
`;

/** Usage text of `tessera gateway`. */
export const GATEWAY_USAGE = `usage: tessera gateway [--config FILE] [--listen HOST:PORT] [--workers N|auto]

  One S3 gateway (default listen 127.0.0.1:9000). --workers runs that many processes on one address.
  SIGHUP looks for a newer ring at once and re-reads the TLS certificate and master keys.
  Settings come from flags, then TESSERA_* environment variables, then the --config JSON file, then defaults.
`;

/** Usage text of `tessera healthcheck`. */
export const HEALTHCHECK_USAGE = `usage: tessera healthcheck [URL]

  Exit 0 when the local storage node or gateway is healthy. Without URL it asks the port TESSERA_LISTEN
  names (or both default ports) on loopback, for container HEALTHCHECKs without curl.
`;

/**
 * The usage text `argv` asks for with --help or -h (before any `--`), for the most specific command it
 * names; undefined when it does not ask. Every command answers --help this way before parsing its options.
 */
export function usageFor(argv: readonly string[]): string | undefined {
  const end = argv.indexOf('--');
  const args = end === -1 ? argv : argv.slice(0, end);
  if (!args.some((arg) => arg === '--help' || arg === '-h')) return undefined;
  const [command, sub] = args;
  switch (command) {
    case 'dev':
      return DEV_USAGE;
    case 'node':
      return NODE_USAGE;
    case 'gateway':
      return GATEWAY_USAGE;
    case 'healthcheck':
      return HEALTHCHECK_USAGE;
    case 'cluster':
      return CLUSTER_USAGE;
    case 'ring':
      return sub === 'push' ? PUSH_USAGE : RING_USAGE;
    case 'config':
      return CONFIG_USAGE;
    case 'admin':
      if (sub === 'kms') return KMS_USAGE;
      if (sub === 'user' || sub === 'key' || sub === 'policy') return USER_USAGE;
      return ADMIN_USAGE;
    default:
      return TESSERA_USAGE;
  }
}
