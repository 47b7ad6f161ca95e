#!/usr/bin/env node
import cluster from 'node:cluster';
import { parseArgs } from 'node:util';
import { DEFAULTS, GatewaySettings, createRootLogger } from '../common/index.js';
import { runAdminCli } from './admin-cli.js';
import { runClusterCli, runRingPush } from './cluster-cli.js';
import { runConfigCli } from './config-cli.js';
import { runHealthcheck } from './healthcheck.js';
import { TESSERA_USAGE, usageFor } from './help.js';
import { runRingCli } from './ring-cli.js';
import { GatewayWorkers, gatewayMetricsText, gatewayWorkerCount, shareWorkerMetrics } from './gateway-workers.js';
import { runDev, runGateway, runNode, type Service } from './roles.js';


async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const env = process.env;
  const io = { stdout: (s: string) => void process.stdout.write(s), stderr: (s: string) => void process.stderr.write(s) };
  const help = usageFor(argv);
  if (help !== undefined) {
    process.stdout.write(help);
    return 0;
  }
  if (command === 'ring' && rest[0] === 'push') return runRingPush(rest.slice(1), env, io);
  if (command === 'ring') return runRingCli(rest, io);
  if (command === 'cluster') return runClusterCli(rest, io);
  if (command === 'admin') return runAdminCli(rest, env, io);
  if (command === 'config') return runConfigCli(rest, env, io);
  if (command === 'healthcheck') return runHealthcheck(rest, env, io);
  if (command === undefined || command === 'help') {
    process.stdout.write(TESSERA_USAGE);
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
          ...(env[GatewaySettings.properties.logLevel.env] === undefined ? ['  logs:       warnings and errors (TESSERA_LOG_LEVEL=info or debug for more)'] : []),
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
      process.stderr.write(`unknown command: ${command}\n${TESSERA_USAGE}`);
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
