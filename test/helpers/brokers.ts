import { spawn, type ChildProcess } from 'node:child_process';
import { access, constants, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClientProbe } from './clients.js';
import { freePorts } from './ports.js';
import { tcpAccepts } from './server.js';
import { until } from './until.js';

/** How long a broker may take to listen: RabbitMQ boots an Erlang VM. */
const START_TIMEOUT_MS = 120_000;

/** Debian's broker binaries, where its packages install them. */
export const BROKER_BINARIES = {
  redis: '/usr/bin/redis-server',
  nats: '/usr/sbin/nats-server',
  mosquitto: '/usr/sbin/mosquitto',
  rabbitmq: '/usr/lib/rabbitmq/bin/rabbitmq-server',
  epmd: '/usr/bin/epmd',
} as const;

/** Whether a broker's binary is installed, as the client tests' probe says it. */
export async function probeBroker(name: Exclude<keyof typeof BROKER_BINARIES, 'epmd'>): Promise<ClientProbe> {
  try {
    await access(BROKER_BINARIES[name], constants.X_OK);
    return { available: true, version: BROKER_BINARIES[name] };
  } catch {
    return { available: false, reason: `${BROKER_BINARIES[name]} is not installed (apt-get install ${name === 'redis' ? 'redis-server' : name === 'nats' ? 'nats-server' : name === 'rabbitmq' ? 'rabbitmq-server' : 'mosquitto'})` };
  }
}

/** Whether something accepts TCP connections on 127.0.0.1:port. */
export async function listening(port: number): Promise<boolean> {
  return (await tcpAccepts('127.0.0.1', port)) === true;
}

/**
 * A broker run by a test: its own port on 127.0.0.1 and its own data directory, started as a child and
 * stopped by its PID. `restart` stops it and starts it again on the same port and directory.
 */
export class TestBroker {
  readonly port: number;
  readonly dataDir: string;
  private readonly command: (port: number, dataDir: string) => Promise<{ file: string; args: string[]; env?: Record<string, string> }>;
  private child: ChildProcess | undefined;
  private output = '';

  private constructor(port: number, dataDir: string, command: TestBroker['command']) {
    this.port = port;
    this.dataDir = dataDir;
    this.command = command;
  }

  /** Starts a broker whose command line `command` gives for a port and directory, and waits until it listens. */
  static async start(name: string, command: TestBroker['command']): Promise<TestBroker> {
    const [port] = (await freePorts(1)) as [number];
    const broker = new TestBroker(port, await mkdtemp(join(tmpdir(), `tessera-${name}-`)), command);
    await broker.run();
    return broker;
  }

  private async run(): Promise<void> {
    const { file, args, env } = await this.command(this.port, this.dataDir);
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    this.child = child;
    child.stdout?.on('data', (chunk: Buffer) => void (this.output = (this.output + chunk.toString()).slice(-8_000)));
    child.stderr?.on('data', (chunk: Buffer) => void (this.output = (this.output + chunk.toString()).slice(-8_000)));
    await until(`${file} to listen on ${this.port} (output: ${this.output})`, async () => {
      if (child.exitCode !== null) throw new Error(`${file} exited ${child.exitCode}: ${this.output}`);
      return listening(this.port);
    }, START_TIMEOUT_MS, 50);
  }

  /** Stops the broker (SIGTERM to its PID) and waits until it has exited and its port is closed. */
  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (child === undefined || child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    await exited;
    await until(`port ${this.port} to close`, async () => !(await listening(this.port)), 30_000, 50);
  }

  /** Stops and starts the broker again, on the same port and data directory. */
  async restart(): Promise<void> {
    await this.stop();
    await this.run();
  }

  /** Stops the broker and removes its directory. */
  async close(): Promise<void> {
    await this.stop();
    await rm(this.dataDir, { recursive: true, force: true });
  }
}

/** redis-server on its own port and directory, without persistence. */
export function startRedis(): Promise<TestBroker> {
  return TestBroker.start('redis', async (port, dir) => ({
    file: BROKER_BINARIES.redis,
    args: ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--daemonize', 'no'],
  }));
}

/** nats-server on its own port. */
export function startNats(): Promise<TestBroker> {
  return TestBroker.start('nats', async (port, dir) => ({ file: BROKER_BINARIES.nats, args: ['-a', '127.0.0.1', '-p', String(port), '--pid', join(dir, 'nats.pid')] }));
}

/** mosquitto on its own port, anonymous clients allowed, no persistence. */
export async function startMosquitto(): Promise<TestBroker> {
  return TestBroker.start('mosquitto', async (port, dir) => {
    const config = join(dir, 'mosquitto.conf');
    await writeFile(config, `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\n`);
    return { file: BROKER_BINARIES.mosquitto, args: ['-c', config] };
  });
}

/**
 * RabbitMQ on its own AMQP port, node name and directories, run as the test's user (not through
 * Debian's wrapper, which switches to the rabbitmq user), with an Erlang port mapper (epmd) of its own
 * that the test also starts and stops by PID, so nothing outlives the test.
 */
export async function startRabbitmq(): Promise<{ broker: TestBroker; epmd: TestBroker }> {
  const epmd = await TestBroker.start('epmd', async (port) => ({ file: BROKER_BINARIES.epmd, args: ['-port', String(port), '-address', '127.0.0.1'] }));
  try {
    const [distPort] = (await freePorts(1)) as [number];
    const broker = await TestBroker.start('rabbitmq', async (port, dir) => {
      await writeFile(join(dir, 'enabled_plugins'), '[].\n');
      return {
        file: BROKER_BINARIES.rabbitmq,
        args: [],
        env: {
          HOME: dir,
          ERL_EPMD_PORT: String(epmd.port),
          RABBITMQ_NODE_PORT: String(port),
          RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
          RABBITMQ_DIST_PORT: String(distPort),
          RABBITMQ_NODENAME: `tessera${port}@localhost`,
          RABBITMQ_MNESIA_BASE: join(dir, 'mnesia'),
          RABBITMQ_LOG_BASE: join(dir, 'log'),
          RABBITMQ_ENABLED_PLUGINS_FILE: join(dir, 'enabled_plugins'),
          RABBITMQ_PLUGINS_EXPAND_DIR: join(dir, 'plugins'),
          RABBITMQ_FEATURE_FLAGS_FILE: join(dir, 'feature_flags'),
          RABBITMQ_PID_FILE: join(dir, 'rabbitmq.pid'),
          RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: '-start_epmd false',
        },
      };
    });
    return { broker, epmd };
  } catch (err) {
    await epmd.close();
    throw err;
  }
}
