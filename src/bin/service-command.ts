import cluster from 'node:cluster';
import { parseArgs } from 'node:util';
import { DEFAULTS, GatewaySettings, createRootLogger, type Env, type Logger, type LogFormat } from '../common/index.js';
import { GatewayWorkers, gatewayMetricsText, gatewayWorkerCount, shareWorkerMetrics } from './gateway-workers.js';
import { runDev, runGateway, runNode, type DevInfo, type Service } from './roles.js';

/** The commands that run until a signal stops them. */
export type ServiceCommand = 'dev' | 'node' | 'gateway';

/** The options of every service command; each reads its own. */
const SERVICE_OPTIONS = {
  data: { type: 'string' },
  listen: { type: 'string' },
  'console-listen': { type: 'string' },
  id: { type: 'string' },
  'secret-file': { type: 'string' },
  config: { type: 'string' },
  nodes: { type: 'string' },
  'node-threads': { type: 'string' },
  workers: { type: 'string' },
  'log-format': { type: 'string' },
} as const;

/** The flags given, by name. */
type ServiceFlags = { [K in keyof typeof SERVICE_OPTIONS]?: string | undefined };

/** The root logger of a service command, remade once its configuration is known (its level and format). */
interface RootLogger {
  current: Logger;
  /** The `--log-format` flag or TESSERA_LOG_FORMAT; undefined leaves it to the configuration. */
  format: LogFormat | undefined;
  fromConfig(config: { logLevel: string; logFormat: LogFormat }): Logger;
}

/** `tessera dev|node|gateway`: starts the service and runs it until SIGINT or SIGTERM; the exit code. */
export async function runServiceCommand(command: ServiceCommand, args: string[], env: Env): Promise<number> {
  const { values } = parseArgs({ args, options: SERVICE_OPTIONS, strict: true });
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
  const logger = rootLogger(values['log-format'] ?? env[GatewaySettings.properties.logFormat.env], env);
  const hold = (started: Service): void => {
    service = started;
  };
  const running =
    command === 'dev' ? await startDev(values, env, logger) : command === 'node' ? await startNode(values, env, logger) : await startGateway(values, env, logger, hold);
  hold(running);
  await stopRequested;
  logger.current.info('shutting down');
  await running.close();
  return 0;
}

/** The root logger: TESSERA_LOG_LEVEL and the format flag until the configuration says more. */
function rootLogger(formatFlag: string | undefined, env: Env): RootLogger {
  const format = logFormatOf(formatFlag);
  const logger: RootLogger = {
    current: createRootLogger({ level: env[GatewaySettings.properties.logLevel.env] ?? DEFAULTS.logLevel, format: format ?? DEFAULTS.logFormat }),
    format,
    fromConfig: (config) => {
      logger.current = createRootLogger({ level: config.logLevel, format: format ?? config.logFormat });
      return logger.current;
    },
  };
  return logger;
}

/** `--log-format` / TESSERA_LOG_FORMAT, checked; undefined leaves it to the configuration. */
function logFormatOf(value: string | undefined): LogFormat | undefined {
  if (value === undefined) return undefined;
  if (value === 'auto' || value === 'pretty' || value === 'json') return value;
  throw new Error(`--log-format must be auto, pretty or json, got ${JSON.stringify(value)}`);
}

/** `tessera dev`: the embedded cluster, and the lines that tell a person how to reach it. */
async function startDev(values: ServiceFlags, env: Env, logger: RootLogger): Promise<Service> {
  const format = logger.format ?? DEFAULTS.logFormat;
  const threadLogs = format === 'auto' ? (process.stdout.isTTY === true ? 'pretty' : 'json') : format === 'pretty' ? 'pretty' : 'json';
  const dev = await runDev({ data: values.data, listen: values.listen, consoleListen: values['console-listen'], nodes: values.nodes, nodeThreads: values['node-threads'], logFormat: threadLogs }, env, logger.current);
  process.stdout.write(devBanner(dev.info, env[GatewaySettings.properties.logLevel.env] === undefined));
  return dev;
}

/** What `tessera dev` prints once it listens. */
function devBanner(info: DevInfo, defaultLogLevel: boolean): string {
  // A secret key the operator keeps in a file stays there: terminals and logs are read by others.
  const secretKey = info.secretFile === undefined ? info.secretAccessKey : `(in ${info.secretFile})`;
  return [
    'Tessera is running (embedded: 1 gateway, storage nodes on loopback).',
    `  endpoint:   ${info.endpoint}`,
    `  console:    ${info.console}`,
    `  metrics:    ${info.endpoint}/metrics`,
    `  region:     ${info.region}`,
    `  access key: ${info.accessKeyId}`,
    `  secret key: ${secretKey}`,
    `  data:       ${info.dataDir}`,
    ...(defaultLogLevel ? ['  logs:       warnings and errors (TESSERA_LOG_LEVEL=info or debug for more)'] : []),
    `Try: AWS_ACCESS_KEY_ID=${info.accessKeyId} AWS_SECRET_ACCESS_KEY=${info.secretFile === undefined ? info.secretAccessKey : '<secret key>'} aws --endpoint-url ${info.endpoint} s3 mb s3://demo`,
    'Press Ctrl-C to stop.',
    '',
  ].join('\n');
}

/** `tessera node`: one storage node. */
async function startNode(values: ServiceFlags, env: Env, logger: RootLogger): Promise<Service> {
  return runNode({ config: values.config, data: values.data, listen: values.listen, id: values.id, secretFile: values['secret-file'] }, env, (config) =>
    logger.fromConfig(config),
  );
}

/**
 * `tessera gateway`: one gateway, or with --workers a primary that runs that many on one address. The
 * primary is held (closed on a signal) before its workers start, so none is left behind by a signal then.
 */
async function startGateway(values: ServiceFlags, env: Env, logger: RootLogger, hold: (service: Service) => void): Promise<Service> {
  const workers = gatewayWorkerCount(values.workers);
  if (workers > 1 && cluster.isPrimary) {
    const primary = new GatewayWorkers({ count: workers, logger: logger.current });
    hold(primary);
    await primary.start();
    process.on('SIGHUP', () => primary.reload());
    logger.current.info({ workers }, 'gateway workers listening');
    return primary;
  }
  const gateway = await runGateway({ config: values.config, listen: values.listen, consoleListen: values['console-listen'] }, env, (config) => logger.fromConfig(config), gatewayMetricsText());
  // Once its gateway is up, a worker reports its figures to the primary, whichever worker a scrape reaches.
  if (cluster.isWorker) shareWorkerMetrics(gateway.metrics.registry);
  // SIGHUP: look for a newer ring at once instead of waiting for the next poll, re-read a renewed certificate and the master keys.
  process.on('SIGHUP', () => {
    void gateway.reloadRing();
    void gateway.reloadTls();
    void gateway.reloadMasterKeys();
  });
  return gateway;
}
