import { parseArgs } from 'node:util';

/** The line a bench child server prints once it listens; the parent reads the endpoint from it. */
export const READY_PREFIX = 'bench-server-ready ';

/** Options every bench child server takes: `--port N` (0: any free port) and `--dir DIR` for its data. */
export function childOptions(): { port: number; dir: string | undefined } {
  const { values } = parseArgs({ options: { port: { type: 'string', default: '0' }, dir: { type: 'string' } } });
  return { port: Number(values.port), dir: values.dir };
}

/**
 * Runs a bench child server: starts it, announces its endpoint on stdout, and on SIGTERM or SIGINT closes it and exits
 * (the parent stops children by PID and kills them if this takes too long).
 */
export async function serveUntilSignalled(service: { start(): Promise<string>; close(): Promise<void> }): Promise<void> {
  const endpoint = await service.start();
  const stop = (): void => {
    service.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  process.stdout.write(`${READY_PREFIX}${endpoint}\n`);
}
