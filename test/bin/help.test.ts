import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import pLimit from 'p-limit';
import { t } from 'tap';
import { USAGE_DEFAULTS, usageFor } from '../../src/bin/help.js';
import { DEFAULTS } from '../../src/common/index.js';
import { DEFAULT_PARTITION_BITS } from '../../src/placement/index.js';
import { tesseraArgs } from '../helpers/tree.js';

const run = promisify(execFile);

/** Every command and subcommand of the CLI, as src/bin/tessera.ts and its command files dispatch them. */
const COMMANDS = [
  [],
  ['dev'],
  ['node'],
  ['gateway'],
  ['healthcheck'],
  ['cluster'],
  ['cluster', 'init'],
  ['ring'],
  ...['create', 'add', 'remove', 'reweight', 'show', 'diff', 'locate', 'push'].map((sub) => ['ring', sub]),
  ['config'],
  ['config', 'check'],
  ['plan'],
  ['plan', 'durability'],
  ['admin'],
  ...['status', 'scrub', 'heal', 'object', 'kms'].map((sub) => ['admin', sub]),
  ['admin', 'kms', 'rotate'],
  ...['add', 'list', 'remove'].map((sub) => ['admin', 'user', sub]),
  ...['add', 'remove'].map((sub) => ['admin', 'key', sub]),
  ...['set', 'attach', 'detach', 'list'].map((sub) => ['admin', 'policy', sub]),
  ['admin', 'replicate', 'resync'],
];

/** The first line every usage text of `command` begins with. */
const usageLine = (command: readonly string[]): string => `usage: tessera${command[0] === undefined ? '' : ` ${command[0]}`}`;

t.test('--help and -h anywhere before -- ask for the usage of the command named', (t) => {
  for (const command of COMMANDS) {
    for (const flag of ['--help', '-h']) t.ok(usageFor([...command, flag])?.startsWith(usageLine(command)), [...command, flag].join(' '));
  }
  t.equal(usageFor(['ring', 'push', '--help'])?.split('\n')[0]?.startsWith('usage: tessera ring push'), true, 'ring push has its own');
  t.equal(usageFor(['admin', 'kms', '-h'])?.split('\n')[0]?.startsWith('usage: tessera admin kms'), true, 'admin kms has its own');
  t.equal(usageFor(['dev', '--data', 'x']), undefined, 'no help asked');
  t.equal(usageFor(['admin', 'object', 'bucket', '--', '--help']), undefined, 'after -- it is an argument');
  t.end();
});

t.test('the defaults the usage texts name are the ones the code uses', (t) => {
  t.same(USAGE_DEFAULTS, { dataShards: DEFAULTS.dataShards, parityShards: DEFAULTS.parityShards, partitionBits: DEFAULT_PARTITION_BITS });
  t.end();
});

// Through the entry point, as a person runs it: a process per command, a few at a time.
const limit = pLimit(4);
await Promise.all(
  COMMANDS.map((command) =>
    limit(async () => {
      const argv = [...command, '--help'];
      const outcome = await run(process.execPath, tesseraArgs(...argv), { timeout: 120_000 }).then(
        ({ stdout }) => ({ code: 0, stdout }),
        (err: { code?: unknown; stdout?: string }) => ({ code: err.code, stdout: err.stdout ?? '' }),
      );
      t.test(`tessera ${argv.join(' ')} prints its usage and exits 0`, (t) => {
        t.equal(outcome.code, 0, 'exit 0');
        t.ok(outcome.stdout.startsWith(usageLine(command)), `starts with "${usageLine(command)}": ${outcome.stdout.split('\n')[0] ?? ''}`);
        t.end();
      });
    }),
  ),
);
