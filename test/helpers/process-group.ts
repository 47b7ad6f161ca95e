import { rm } from 'node:fs/promises';
import { S3Client } from '@aws-sdk/client-s3';
import { TesseraProcess } from './server.js';

const START_TIMEOUT_MS = 180_000;

/** Waits `ms`; fleets poll readiness and status because a child process offers no event for them. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * The child processes one test fleet started, and the S3 clients it handed out. Only these children are
 * ever signalled, each by its own PID; if the test process itself dies (a tap timeout) they die with it.
 */
export class ProcessGroup {
  private readonly credentials: { accessKeyId: string; secretAccessKey: string };
  private readonly all = new Set<TesseraProcess>();
  private readonly clients: S3Client[] = [];
  private readonly onExit = (): void => {
    for (const child of this.all) if (!child.hasExited) child.child.kill('SIGKILL');
  };

  constructor(credentials: { accessKeyId: string; secretAccessKey: string }) {
    this.credentials = credentials;
    process.once('exit', this.onExit);
  }

  /** Starts `tessera ARGS` as a tracked child. */
  spawn(name: string, args: string[], env: Record<string, string>): TesseraProcess {
    const child = new TesseraProcess(name, args, env);
    this.all.add(child);
    void child.exited.then(() => this.all.delete(child));
    return child;
  }

  /** SIGKILLs a child (by its PID) and waits for it to be gone. */
  async kill(child: TesseraProcess | null): Promise<void> {
    if (child === null || child.hasExited) return;
    child.child.kill('SIGKILL');
    await child.exited;
  }

  /** Starts `tessera gateway --config FILE` and waits until it logged that it listens on `port` and answers HTTP there. */
  async startGateway(configPath: string, port: number, env: Record<string, string> = {}): Promise<{ gateway: TesseraProcess; endpoint: string }> {
    const gateway = this.spawn('tessera gateway', ['gateway', '--config', configPath], env);
    const endpoint = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      if (gateway.hasExited) throw new Error(`gateway exited at start\n${gateway.describe()}`);
      try {
        if (!gateway.listensOn(port)) throw new Error(`has not logged that it listens on ${port}`);
        await (await fetch(`${endpoint}/`, { signal: AbortSignal.timeout(1_000) })).arrayBuffer();
        return { gateway, endpoint };
      } catch {
        if (Date.now() > deadline) throw new Error(`gateway not ready\n${gateway.describe()}`);
        await delay(50);
      }
    }
  }

  /** An S3 client that never retries, so every outcome is one request's. */
  client(endpoint: string): S3Client {
    const client = new S3Client({
      endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { ...this.credentials },
      maxAttempts: 1,
      requestHandler: { requestTimeout: 30_000 },
    });
    this.clients.push(client);
    return client;
  }

  /** Stops every child gracefully (SIGTERM, then SIGKILL after a while). */
  async stopAll(): Promise<void> {
    this.destroyClients();
    await Promise.all([...this.all].map((child) => child.stop()));
  }

  /** Kills whatever still runs, by PID, and removes `root`. */
  async destroy(root: string): Promise<void> {
    this.destroyClients();
    await Promise.all([...this.all].map((child) => this.kill(child)));
    process.off('exit', this.onExit);
    await rm(root, { recursive: true, force: true });
  }

  private destroyClients(): void {
    for (const client of this.clients) client.destroy();
    this.clients.length = 0;
  }
}
