#!/usr/bin/env node
import cluster from 'node:cluster';
import { parseArgs } from 'node:util';
import { DEFAULTS, GatewaySettings, createRootLogger } from '../common/index.js';
import { runAdminCli } from './admin-cli.js';
import { runClusterCli, runRingPush } from './cluster-cli.js';
import { runConfigCli } from './config-cli.js';
import { runHealthcheck } from './healthcheck.js';
import { runRingCli } from './ring-cli.js';
import { GatewayWorkers, gatewayMetricsText, gatewayWorkerCount, shareWorkerMetrics } from './gateway-workers.js';
import { runDev, runGateway, runNode, type Service } from './roles.js';

const USAGE = `usage: tessera <command> [options]

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

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const env = process.env;
  const io = { stdout: (s: string) => void process.stdout.write(s), stderr: (s: string) => void process.stderr.write(s) };
  if (command === 'ring' && rest[0] === 'push') return runRingPush(rest.slice(1), env, io);
  if (command === 'ring') return runRingCli(rest, io);
  if (command === 'cluster') return runClusterCli(rest, io);
  if (command === 'admin') return runAdminCli(rest, env, io);
  if (command === 'config') return runConfigCli(rest, env, io);
  if (command === 'healthcheck') return runHealthcheck(rest, env, io);
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(USAGE);
    return command === undefined ? 2 : 0;
  }
  const { values } = parseArgs({
    args: rest,
    options: {
      data: { type: 'string' },
      listen: { type: 'string' },
      id: { type: 'string' },
      'secret-file': { type: 'string' },
      config: { type: 'string' },
      nodes: { type: 'string' },
      'node-threads': { type: 'string' },
      workers: { type: 'string' },
      'log-format': { type: 'string' },
    },
    strict: true,
  });
  // Signals are handled from the start: as PID 1 in a container, Node ignores SIGTERM it has no handler
  // for, and a gateway may wait a while for its first ring. Before the service runs there is nothing to close.
  let service: Service | undefined;
  const stopRequested = new Promise<void>((resolve) => {
    const stop = (): void => {
      if (service === undefined) process.exit(0);
      resolve();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  const logFormat = logFormatOf(values['log-format'] ?? env[GatewaySettings.properties.logFormat.env]);
  let logger = createRootLogger({ level: env[GatewaySettings.properties.logLevel.env] ?? DEFAULTS.logLevel, format: logFormat ?? DEFAULTS.logFormat });
  const rootLogger = (config: { logLevel: string; logFormat: 'auto' | 'pretty' | 'json' }): typeof logger => {
    logger = createRootLogger({ level: config.logLevel, format: logFormat ?? config.logFormat });
    return logger;
  };
  switch (command) {
    case 'dev': {
      const threadLogs = (logFormat ?? DEFAULTS.logFormat) === 'auto' ? (process.stdout.isTTY === true ? 'pretty' : 'json') : logFormat === 'pretty' ? 'pretty' : 'json';
      const dev = await runDev({ data: values.data, listen: values.listen, nodes: values.nodes, nodeThreads: values['node-threads'], logFormat: threadLogs }, env, logger);
      const { info } = dev;
      // A secret key the operator keeps in a file stays there: terminals and logs are read by others.
      const secretKey = info.secretFile === undefined ? info.secretAccessKey : `(in ${info.secretFile})`;
      process.stdout.write(
        [
          'Tessera is running (embedded: 1 gateway, storage nodes on loopback).',
          `  endpoint:   ${info.endpoint}`,
          `  console:    ${info.endpoint}/-/console/`,
          `  metrics:    ${info.endpoint}/metrics`,
          `  region:     ${info.region}`,
          `  access key: ${info.accessKeyId}`,
          `  secret key: ${secretKey}`,
          `  data:       ${info.dataDir}`,
          `Try: AWS_ACCESS_KEY_ID=${info.accessKeyId} AWS_SECRET_ACCESS_KEY=${info.secretFile === undefined ? info.secretAccessKey : '<secret key>'} aws --endpoint-url ${info.endpoint} s3 mb s3://demo`,
          'Press Ctrl-C to stop.',
          '',
        ].join('\n'),
      );
      service = dev;
      break;
    }
    case 'node':
      service = await runNode(
        { config: values.config, data: values.data, listen: values.listen, id: values.id, secretFile: values['secret-file'] },
        env,
        (config) => rootLogger(config),
      );
      break;
    case 'gateway': {
      const workers = gatewayWorkerCount(values.workers);
      if (workers > 1 && cluster.isPrimary) {
        const primary = new GatewayWorkers({ count: workers, logger });
        service = primary;
        await primary.start();
        process.on('SIGHUP', () => primary.reload());
        logger.info({ workers }, 'gateway workers listening');
        break;
      }
      const gateway = await runGateway({ config: values.config, listen: values.listen }, env, (config) => rootLogger(config), gatewayMetricsText());
      // Once its gateway is up, a worker reports its figures to the primary, whichever worker a scrape reaches.
      if (cluster.isWorker) shareWorkerMetrics(gateway.metrics.registry);
      // SIGHUP: look for a newer ring at once instead of waiting for the next poll, re-read a renewed certificate and the master keys.
      process.on('SIGHUP', () => {
        void gateway.reloadRing();
        void gateway.reloadTls();
        void gateway.reloadMasterKeys();
      });
      service = gateway;
      break;
    }
    default:
      process.stderr.write(`unknown command: ${command}\n${USAGE}`);
      return 2;
  }
  await stopRequested;
  logger.info('shutting down');
  await service.close();
  return 0;
}

/** `--log-format` / TESSERA_LOG_FORMAT, checked; undefined leaves it to the configuration. */
function logFormatOf(value: string | undefined): 'auto' | 'pretty' | 'json' | undefined {
  if (value === undefined) return undefined;
  if (value === 'auto' || value === 'pretty' || value === 'json') return value;
  throw new Error(`--log-format must be auto, pretty or json, got ${JSON.stringify(value)}`);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    // A gateway worker's IPC channel to its primary would keep it alive after its gateway closed.
    if (cluster.isWorker) process.exit(code);
  },
  (err: unknown) => {
    process.stderr.write(`tessera: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
