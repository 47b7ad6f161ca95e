import { pino, type Logger, type LoggerOptions } from 'pino';
import { build as prettyStream } from 'pino-pretty';

export type { Logger } from 'pino';

/** Header and query fields that must never reach a log line. */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers["x-amz-security-token"]',
  'req.headers["x-tessera-signature"]',
  'headers.authorization',
  'secretAccessKey',
  'clusterSecret',
  'metricsToken',
  '*.secretAccessKey',
  '*.clusterSecret',
  '*.metricsToken',
];

/** Fields a person reading a terminal does not need on every line (the component leads the message instead). */
const PRETTY_IGNORED = 'pid,hostname,component';

/**
 * The one root logger of a process; components take children of it with `{ component }`. `format`
 * `pretty` writes one readable line per event (pino-pretty, synchronously, no worker thread), `json`
 * one JSON object per line, and `auto` (the default) pretty when stdout is a terminal, so `npm start`
 * reads well and anything piped or collected gets JSON.
 */
export function createRootLogger(
  options: { level?: string; format?: 'auto' | 'pretty' | 'json'; destination?: NodeJS.WritableStream | undefined; isTerminal?: boolean } = {},
): Logger {
  const config: LoggerOptions = {
    level: options.level ?? 'info',
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    base: { pid: process.pid },
  };
  const format = options.format ?? 'auto';
  const pretty = format === 'pretty' || (format === 'auto' && (options.isTerminal ?? process.stdout.isTTY === true));
  if (pretty) {
    const stream = prettyStream({
      destination: options.destination ?? 2,
      sync: true,
      colorize: options.destination === undefined && process.stderr.isTTY === true,
      ignore: PRETTY_IGNORED,
      translateTime: 'SYS:HH:MM:ss.l',
      singleLine: true,
      messageFormat: '{if component}[{component}] {end}{msg}',
      hideObject: false,
    });
    return pino(config, stream);
  }
  return options.destination === undefined ? pino(config, pino.destination(2)) : pino(config, options.destination);
}

/** A logger that drops everything, for tests and library use. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
