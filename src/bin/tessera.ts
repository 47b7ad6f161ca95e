#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { createRootLogger } from '../common/index.js';
import { runRingCli } from './ring-cli.js';
import { runDev, runGateway, runNode, type Service } from './roles.js';

const USAGE = `usage: tessera <command> [options]

commands:
  dev       [--data DIR] [--listen HOST:PORT] [--nodes N]   embedded gateway + storage nodes (default ./data, 127.0.0.1:9000)
  node      --data DIR --listen HOST:PORT [--id ID] [--secret-file FILE]
                                                           one storage node (secret also from TESSERA_CLUSTER_SECRET)
  gateway   --config FILE [--listen HOST:PORT]             one S3 gateway
  ring      create|add|remove|reweight|show|diff|locate    ring files (tessera ring --help)
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const env = process.env;
  if (command === 'ring') {
    return runRingCli(rest, { stdout: (s) => process.stdout.write(s), stderr: (s) => process.stderr.write(s) });
  }
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
    },
    strict: true,
  });
  const logger = createRootLogger({ level: env['TESSERA_LOG_LEVEL'] ?? 'info' });
  let service: Service;
  switch (command) {
    case 'dev': {
      const dev = await runDev({ data: values.data, listen: values.listen, nodes: values.nodes }, env, logger);
      const { info } = dev;
      process.stdout.write(
        [
          'Tessera is running (embedded: 1 gateway, storage nodes on loopback).',
          `  endpoint:   ${info.endpoint}`,
          `  region:     ${info.region}`,
          `  access key: ${info.accessKeyId}`,
          `  secret key: ${info.secretAccessKey}`,
          `  data:       ${info.dataDir}`,
          `Try: AWS_ACCESS_KEY_ID=${info.accessKeyId} AWS_SECRET_ACCESS_KEY=${info.secretAccessKey} aws --endpoint-url ${info.endpoint} s3 mb s3://demo`,
          'Press Ctrl-C to stop.',
          '',
        ].join('\n'),
      );
      service = dev;
      break;
    }
    case 'node':
      service = await runNode({ data: values.data, listen: values.listen, id: values.id, secretFile: values['secret-file'] }, env, logger);
      break;
    case 'gateway': {
      const gateway = await runGateway({ config: values.config, listen: values.listen }, env, logger);
      // SIGHUP re-reads the ring file at once instead of waiting for the next poll.
      process.on('SIGHUP', () => void gateway.reloadRing());
      service = gateway;
      break;
    }
    default:
      process.stderr.write(`unknown command: ${command}\n${USAGE}`);
      return 2;
  }
  await new Promise<void>((resolve) => {
    const stop = (): void => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  logger.info('shutting down');
  await service.close();
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`tessera: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
