#!/usr/bin/env node
import cluster from 'node:cluster';
import type { Env } from '../common/index.js';
import type { CliIo } from './cluster-cli.js';
import { TESSERA_USAGE, usageFor } from './help.js';

/**
 * Each command, loading its module only when it runs: `--help` and the light commands (ring, config,
 * healthcheck) then start without the gateway's and the storage node's code.
 */
const COMMANDS: Readonly<Record<string, (args: string[], env: Env, io: CliIo) => Promise<number>>> = {
  dev: async (args, env) => (await import('./service-command.js')).runServiceCommand('dev', args, env),
  node: async (args, env) => (await import('./service-command.js')).runServiceCommand('node', args, env),
  gateway: async (args, env) => (await import('./service-command.js')).runServiceCommand('gateway', args, env),
  ring: async (args, env, io) =>
    args[0] === 'push' ? (await import('./cluster-cli.js')).runRingPush(args.slice(1), env, io) : (await import('./ring-cli.js')).runRingCli(args, io),
  cluster: async (args, _env, io) => (await import('./cluster-cli.js')).runClusterCli(args, io),
  admin: async (args, env, io) => (await import('./admin-cli.js')).runAdminCli(args, env, io),
  plan: async (args, env, io) => (await import('./plan-cli.js')).runPlanCli(args, io, env),
  config: async (args, env, io) => (await import('./config-cli.js')).runConfigCli(args, env, io),
  healthcheck: async (args, env, io) => (await import('./healthcheck.js')).runHealthcheck(args, env, io),
};

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const io: CliIo = { stdout: (s) => void process.stdout.write(s), stderr: (s) => void process.stderr.write(s) };
  const help = usageFor(argv);
  if (help !== undefined) {
    io.stdout(help);
    return 0;
  }
  if (command === undefined || command === 'help') {
    io.stdout(TESSERA_USAGE);
    return command === undefined ? 2 : 0;
  }
  const run = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
  if (run === undefined) {
    io.stderr(`unknown command: ${command}\n${TESSERA_USAGE}`);
    return 2;
  }
  return run(rest, process.env, io);
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
