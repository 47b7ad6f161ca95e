/**
 * Every usage text of the command line, kept apart from the commands: `--help` is answered from this
 * file alone, which imports nothing. Loading common/ (its schemas) alone costs more than the rest of
 * a `--help`, so the few defaults the texts name are written out here; test/bin/help.test.ts checks
 * them against DEFAULTS and DEFAULT_PARTITION_BITS.
 */

/** The defaults the usage texts name, as DEFAULTS and placement's DEFAULT_PARTITION_BITS have them. */
export const USAGE_DEFAULTS = { dataShards: 4, parityShards: 2, partitionBits: 10 } as const;

/** Usage text of `tessera`: every command in a line or three. */
export const TESSERA_USAGE = `usage: tessera <command> [options]

commands:
  dev       [--data DIR] [--listen HOST:PORT] [--console-listen HOST:PORT] [--nodes N] [--node-threads N] [--log-format auto|pretty|json]
                                                           embedded gateway + storage nodes (default ./data, 127.0.0.1:9000;
                                                           nodes run in one thread per core but the gateway's, 0 = on its thread;
                                                           beyond loopback only with TESSERA_ACCESS_KEY + TESSERA_SECRET_KEY(_FILE))
  node      [--config FILE] [--data DIR] [--listen HOST:PORT] [--id ID] [--secret-file FILE]
                                                           one storage node (default listen 127.0.0.1:9100)
  gateway   [--config FILE] [--listen HOST:PORT] [--console-listen HOST:PORT] [--workers N|auto]
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
  plan      durability --ec K+M --afr PCT --disk-size TB (--nodes N --zones Z | --ring FILE) (--repair-rate MB/s | --measured)
                                                           expected annual data loss, as nines, for a layout (lists compare)
  healthcheck [URL]                                        exit 0 when the local node or gateway is healthy

Settings come from flags, then TESSERA_* environment variables, then the --config JSON file, then
defaults. Secrets may be files: clusterSecretFile / TESSERA_CLUSTER_SECRET_FILE, credentialsFile,
TESSERA_SECRET_KEY_FILE. See deploy/README.md.
`;

/** Usage text of `tessera dev`. */
export const DEV_USAGE = `usage: tessera dev [--data DIR] [--listen HOST:PORT] [--console-listen HOST:PORT] [--nodes N] [--node-threads N]
                  [--log-format auto|pretty|json]

  One gateway and N storage nodes (default 6) in this process, each node on its own loopback port and
  directory under DIR; prints the endpoint and credentials once it listens. Ctrl-C stops it.

  --data DIR          data directory (TESSERA_DATA_DIR, default ./data)
  --listen HOST:PORT  the gateway's address (TESSERA_LISTEN, default 127.0.0.1:9000; port 0 picks a free one);
                      beyond loopback only with TESSERA_ACCESS_KEY + TESSERA_SECRET_KEY(_FILE)
  --console-listen HOST:PORT  the web console's own address (TESSERA_CONSOLE_LISTEN, default the port after --listen)
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
export const GATEWAY_USAGE = `usage: tessera gateway [--config FILE] [--listen HOST:PORT] [--console-listen HOST:PORT] [--workers N|auto]

  One S3 gateway (default listen 127.0.0.1:9000). --workers runs that many processes on one address.
  --console-listen serves the web console on an address of its own (none unless set).
  SIGHUP looks for a newer ring at once and re-reads the TLS certificate and master keys.
  Settings come from flags, then TESSERA_* environment variables, then the --config JSON file, then defaults.
`;

/** Usage text of `tessera healthcheck`. */
export const HEALTHCHECK_USAGE = `usage: tessera healthcheck [URL]

  Exit 0 when the local storage node or gateway is healthy. Without URL it asks the port TESSERA_LISTEN
  names (or both default ports) on loopback, for container HEALTHCHECKs without curl.
`;

/** Usage text of `tessera admin`. */
export const ADMIN_USAGE = `usage: tessera admin <status|scrub|heal|object|kms|user|key|policy|target|replicate|index|bucket> [--config FILE | --data DIR] [--json]
       tessera admin status [--watch] [--interval-ms N] [--afr PCT] [--disk-size TB] [--repair-rate MB/s]
       tessera admin status|scrub|heal --endpoint URL [--access-key ID --secret-key KEY] [--json]   (through a gateway's admin API; --watch and --wait too)
       tessera admin scrub [--fast]
       tessera admin heal [--fast] [--wait] [--interval-ms N]
       tessera admin object BUCKET KEY [--version ID] [--endpoint URL | --config FILE | --data DIR] [--json]
       tessera admin kms rotate [--config FILE | --data DIR] [--json]
       tessera admin user add|list|show|remove [NAME]; tessera admin key add|list USER | disable|enable|remove KEYID
       tessera admin policy set NAME FILE | attach USER NAME | detach USER NAME | show NAME | list  (--endpoint URL: through a gateway)
       tessera admin target add NAME --type TYPE ... | list | remove NAME
       tessera admin replicate resync BUCKET --target NAME [--concurrency N]
       tessera admin index build BUCKET [--wait-ms N]
       tessera admin bucket quota BUCKET [--max-bytes N] [--max-objects N] [--clear]

  status   per node: scrub progress and rate, shards verified, checksum failures, repairs done and
           pending, rebalance progress and time left, objects below full redundancy, garbage collected;
           then the cluster's nines now (docs/durability.md): from the nodes down, the repair backlog,
           the nodes' measured repair rate and used bytes, the layout and the ring's sets; where the
           cluster has no figure yet it assumes --afr PCT (1.5), --disk-size TB (16), --repair-rate MB/s (50)
           --watch prints it again every --interval-ms (default 2000) until Ctrl-C
  scrub    start a full scrub (and audit) pass on every node now; --fast lifts the rate limit for it
  heal     the same pass; --wait shows its progress until every node has finished it and nothing is
           left to repair (exit 0), or Ctrl-C (exit 1)
  object   where an object's shards are: its partition and node set, each shard's node, size and
           checksum state (each shard is read through the node's checksummed path), the version's
           age, and what a read would cost if each node were lost; a multipart object's parts are
           checked the same way, each on its own node set (stripes, shard size, checksum state)

Nodes come from --config (a gateway configuration: its nodes, ring file or seeds, and cluster secret),
or by default from the embedded cluster of \`tessera dev\`: DIR/cluster.json and DIR/cluster-secret
(DIR: --data, TESSERA_DATA_DIR or ./data).
`;

/** Usage text of `tessera admin target`. */
export const TARGET_USAGE = `usage: tessera admin target add NAME --type TYPE [options] [--gateway URL | --config FILE | --data DIR] [--json]
       tessera admin target list | remove NAME [--gateway URL | --config FILE | --data DIR] [--json]

  --gateway URL  through a gateway's admin API (docs/admin-api.md), signed with AWS_ACCESS_KEY_ID and
                 AWS_SECRET_ACCESS_KEY (AWS_REGION); without it, straight to the nodes of --config/--data

  add NAME     define a target; prints its ARN, the name a bucket notification configuration (event
               targets) or replication rule (s3 targets) uses
  list         every target: name, ARN, type, URL (passwords, tokens and secret keys never shown)
  remove NAME  remove a target

  --type webhook  --url URL [--token-file FILE | --token-env VAR] [--ca-file PEM]
                  POSTs each event as JSON; the bearer token (Authorization: Bearer) is read from a
                  file or an environment variable, never given on the command line; --ca-file trusts
                  a private CA for an https URL
  --type amqp     --url amqp://HOST[:PORT][/VHOST] --exchange NAME --routing-key KEY
  --type nats     --url nats://HOST[:PORT] --subject SUBJECT
  --type redis    --url redis://HOST[:PORT][/DB] --key KEY [--format list|stream]   (default list: RPUSH; stream: XADD)
  --type mqtt     --url mqtt://HOST[:PORT] --topic TOPIC [--qos 0|1|2]             (default QoS 1)
  --type s3       --endpoint URL --bucket BUCKET --access-key KEY-ID
                  (--secret-key-file FILE | --secret-key-env VAR) [--region REGION]   (default us-east-1)
                  a replication destination: another Tessera cluster or any S3-compatible endpoint;
                  the secret key is read from a file or an environment variable, never given on the
                  command line; its ARN is arn:tessera:replication::NAME:BUCKET

  --url-file FILE  read the URL from a file instead of --url: a URL that holds a password must come so
`;

/** Usage text of `tessera admin replicate`. */
export const REPLICATE_USAGE = `usage: tessera admin replicate resync BUCKET --target NAME [--concurrency N] [--config FILE | --data DIR]

  resync   send the bucket's existing versions and delete markers that the replication target NAME
           lacks: those an enabled replication rule of the bucket with NAME's ARN as its destination
           selects (delete markers when the rule replicates them), written before the rule existed or
           never delivered. Each key's versions go oldest first, with their version ids; a version the
           destination already holds (same version id and ETag) is not sent again. A version at the
           destination is marked COMPLETED at the source, one that can never be sent FAILED.
           Shows versions and bytes done, MiB/s and time left; ends with what was sent and how fast.
           Exit 0: everything is there; 1: some versions failed (run it again); 2: nothing to do with
           that target (no such s3 target, or no enabled rule of the bucket sends to it).

  --concurrency N   keys sent at once (default 4, at most 64)
`;

/** Usage text of `tessera admin index`. */
export const INDEX_USAGE = `usage: tessera admin index build BUCKET [--wait-ms N] [--config FILE | --data DIR]

  build    build the bucket index of a bucket created before Tessera had one (and of its multipart
           uploads), while the bucket stays in use: it marks the bucket so that every gateway writes
           to the index too, waits --wait-ms (default: the gateways' bucket cache lifetime plus 30 s)
           until every gateway has seen that, copies every version and upload from the keys' nodes
           into the index, then marks the bucket indexed: from then on its listings read the index.
           Writes never pause. Run it again if it fails: it copies the same versions again.
           Exit 0: the bucket is indexed; 1: the build failed; 2: no such bucket.
`;

/** Usage text of `tessera admin bucket`. */
export const BUCKET_USAGE = `usage: tessera admin bucket quota BUCKET [--max-bytes N] [--max-objects N] [--clear] [--endpoint URL | --config FILE | --data DIR] [--json]

  --endpoint URL  through a gateway's admin API (docs/admin-api.md), signed with --access-key and
                  --secret-key or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY

  quota    with --max-bytes and/or --max-objects: sets the bucket's hard quota (a limit not given is
           none); with --clear: removes it; with neither: shows it. Every form prints the quota and the
           bucket's usage (object versions kept, delete markers not counted, and their bytes) as the
           nodes count it. Gateways follow a change within their bucket cache lifetime; a write that
           would take the bucket past a limit is refused with QuotaExceeded (docs/quotas.md).
           Exit 0: done; 1: the cluster could not be reached; 2: bad arguments or no such bucket.
`;

/** Usage text of `tessera admin kms`. */
export const KMS_USAGE = `usage: tessera admin kms rotate [--config FILE | --data DIR] [--json]
       tessera admin kms key create|rotate|disable|enable NAME | key list [--endpoint URL | --config FILE | --data DIR] [--json]

  --endpoint URL  key commands through a gateway's admin API (docs/admin-api.md), signed with --access-key
                  and --secret-key or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; the gateway seals a new
                  key under its own master key file

  rotate   re-seal every SSE-S3 data key on every node, and every KMS key, under the first key of the
           master key file (sseMasterKeyFile of --config, or DIR/sse-master-keys of the embedded cluster);
           no object data is rewritten. First put the new key at the top of every gateway's master key
           file and reload the gateways (SIGHUP); run rotate until it reports 0 re-sealed; then drop the old key.

  key create NAME   a new SSE-KMS key (1-64 of A-Z a-z 0-9 _ -), sealed under the master key file;
                    prints its ARN, which x-amz-server-side-encryption-aws-kms-key-id takes (or NAME)
  key list          every key: name, ARN, state, versions (never key material); aws/s3 is the default
                    key, made on the first aws:kms write that names no key
  key rotate NAME   a new version of the key seals new writes; objects sealed by older versions still read
  key disable NAME  the key refuses writes and reads (KMS.DisabledException) until enabled again
  key enable NAME
`;

/** Usage text of `tessera admin user|key|policy`. */
export const USER_USAGE = `usage: tessera admin user add|show|remove NAME | user list [TARGET] [--json]
       tessera admin key add|list USER | key disable|enable|remove KEYID [TARGET] [--json]
       tessera admin policy set NAME FILE | attach USER NAME | detach USER NAME | show NAME | list [TARGET] [--json]

  TARGET: --endpoint URL   through a gateway's admin API (docs/admin-api.md), signed with
                           --access-key/--secret-key or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY
                           (--region or AWS_REGION, default us-east-1); the caller's policy decides
          --config FILE | --data DIR   straight to the nodes (bootstrap and recovery: no gateway needed)

  user add NAME      create a user with one access key; prints its access key and secret key (only now)
  user list          every user: name, canonical id, access key ids (never secrets)
  user show NAME     one user: its policies and its keys (enabled or not, never secrets)
  user remove NAME   remove a user and all its keys; its buckets keep their owner id
  key add USER       give a user another access key (rotation: both stay valid until one is removed)
  key list USER      a user's access keys
  key disable KEYID  stop a key signing anything (enable: let it again)
  key remove KEYID   revoke one access key
  policy set NAME FILE      store an identity policy (AWS's policy language, no Principal); replaces one of that name
  policy attach USER NAME   attach a policy to a user (built in: admin, readonly, readwrite, writeonly)
  policy detach USER NAME   detach it
  policy show NAME          a policy's document
  policy list               every stored policy and which users have which attached

  --json   one JSON document on stdout instead of text (errors stay text on stderr, with a non-zero exit)
`;

/** Usage of `tessera config`. */
export const CONFIG_USAGE = `usage: tessera config check [FILE] [--role gateway|node]

  Validates a configuration exactly as the process would load it (the file, then TESSERA_*
  variables over it, secret files read), plus the files it names (ring file, TLS key and
  certificate), and prints the result with secrets redacted. Starts nothing.
  The role is read from the file: a node file names dataDir or nodeId. Without FILE, the
  environment alone is checked (give --role).
`;

/** Usage text of `tessera plan`. */
export const PLAN_USAGE = `usage: tessera plan durability --ec K+M --afr PCT --disk-size TB (--repair-rate MB/S | --measured [--config FILE | --data DIR])
                               (--nodes N --zones Z [--partition-bits B] | --ring FILE) [--json]

  The expected annual probability of losing at least one object, as nines, and the bytes lost per year,
  under the model of docs/durability.md: nodes fail independently at the annual failure rate; a failed
  node's data (a full disk) is rebuilt at the repair rate; data is lost when a node fails while m others
  of a partition set holding it are still being rebuilt. The more distinct sets the placement has, the
  more likely some set holds m+1 failed nodes. Losing a whole zone is reported on its own line.

  --ec K+M           erasure layout; Rx for R replicas (3x = 1+2)
  --afr PCT          annual failure rate of a node, in percent (e.g. 1.5)
  --disk-size TB     data per node, in TB (10^12 bytes)
  --repair-rate MB/S rate at which a failed node's data is rebuilt, in MB/s (npm run bench:repair measures it)
  --measured         the repair rate a running cluster's nodes measured instead (the median of their rebuild
                     rates, as admin status reads it); the nodes come from --config or the embedded --data
  --nodes N          nodes in the cluster, --zones Z zones (default 1), --partition-bits B (default ${USAGE_DEFAULTS.partitionBits})
  --ring FILE        take nodes, zones and the partition sets from a ring file instead

  --ec, --nodes, --zones and --repair-rate take comma lists (--ec 4+2,8+4,3x --nodes 6,60,600): every
  combination becomes one row of the table, so layouts can be compared side by side.
`;

/** Usage text of `tessera ring`. */
export const RING_USAGE = `usage: tessera ring <command> [options]

  create   RING --node SPEC... | --nodes FILE  [--replicas N] [--partition-bits B] [--seed S] [--fill F] [--force]
           write a new ring (epoch 1); defaults: 6 replicas (4+2), ${USAGE_DEFAULTS.partitionBits} partition bits, seed 0
  add      RING --node SPEC...  [--seed S] [--out FILE]   add nodes, write the next epoch
  remove   RING ID...           [--seed S] [--out FILE]   drop nodes at once (to drain gently, reweight to 0 first)
  reweight RING ID WEIGHT       [--seed S] [--out FILE]   change a node's weight (0 drains it)
  show     RING                                          balance per node and per zone
  diff     OLD NEW                                       slots moved between two rings, per node
  locate   RING BUCKET KEY      [--data-shards K] [--json] the partition and its nodes by shard index
  push     RING|- --config FILE | --secret-file FILE    hand the ring to every node (tessera ring push --help)

  SPEC     ID=HOST:PORT[,zone=ZONE][,weight=W]   zone defaults to "default", weight to 1
  --nodes  a JSON file: an array of {id, address, zone?, weight?}, or an object with such a "nodes" array
  --out    write the new ring there instead of replacing RING (to diff it first)
  --seed   the builder is deterministic: the same ring, members and seed give the same table
  --fill   how a new ring's table is filled: paced (default; fast at any size) or urgency (the
           table a gateway derives from the same node list and seed 0)
`;

/** Usage of `tessera cluster`. */
export const CLUSTER_USAGE = `usage: tessera cluster init --node SPEC... | --nodes FILE [options]

  Creates a cluster: a cluster secret, the first ring (epoch 1), an S3 access key and a gateway
  configuration that starts from the nodes as seeds, all in --out DIR.

  --node SPEC          ID=HOST:PORT[,zone=ZONE][,weight=W] (repeatable); HOST:PORT is how gateways reach the node
  --nodes FILE         JSON: an array of {id, address, zone?, weight?}
  --out DIR            where to write ring.json, cluster-secret, s3-credentials.json, gateway.json (default .)
  --data-shards K      erasure data shards (default ${USAGE_DEFAULTS.dataShards})
  --parity-shards M    erasure parity shards (default ${USAGE_DEFAULTS.parityShards}); the ring places K+M shards
  --partition-bits B   2^B partitions (default ${USAGE_DEFAULTS.partitionBits})
  --seed S             ring builder seed (default 0; the same inputs give the same ring)
  --fill F             paced (default) or urgency: how the ring's table is filled (tessera ring --help)
  --secret-file FILE   use this cluster secret instead of making one (e.g. a mounted Kubernetes Secret)
  --push               hand the ring to every node now, waiting for them to start (see --wait-ms)
  --wait-ms MS         how long --push waits for unreachable nodes (default 120000)
  --force              overwrite files in --out
`;

/** Usage of `tessera ring push`. */
export const PUSH_USAGE = `usage: tessera ring push RING|- (--config FILE | --secret-file FILE) [--node HOST:PORT]... [--timeout-ms MS]

  Hands RING to every node it lists, to the seeds or nodes of --config, to --node extras, and to the
  members of the ring the nodes held before (so a removed node learns it is out). Each node keeps
  the newest epoch it is given; gateways started from seeds find the new epoch on their next poll.
  RING "-" reads the ring from standard input. Exit status 1 when a member of RING did not take it.
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
    case 'plan':
      return PLAN_USAGE;
    case 'admin':
      if (sub === 'kms') return KMS_USAGE;
      if (sub === 'user' || sub === 'key' || sub === 'policy') return USER_USAGE;
      if (sub === 'target') return TARGET_USAGE;
      if (sub === 'replicate') return REPLICATE_USAGE;
      if (sub === 'index') return INDEX_USAGE;
      if (sub === 'bucket') return BUCKET_USAGE;
      return ADMIN_USAGE;
    default:
      return TESSERA_USAGE;
  }
}
