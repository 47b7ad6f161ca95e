import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger } from 'pino';

/** Header and query fields that must never reach a log line. */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers["x-amz-security-token"]',
  'req.headers["x-tessera-signature"]',
  'headers.authorization',
  'secretAccessKey',
  'clusterSecret',
  '*.secretAccessKey',
  '*.clusterSecret',
];

/** The one root logger of a process; components take children of it with `{ component }`. */
export function createRootLogger(options: { level?: string; destination?: NodeJS.WritableStream | undefined } = {}): Logger {
  const config: LoggerOptions = {
    level: options.level ?? 'info',
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    base: { pid: process.pid },
  };
  return options.destination === undefined ? pino(config, pino.destination(2)) : pino(config, options.destination);
}

/** A logger that drops everything, for tests and library use. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
