import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker, type MessagePort } from 'node:worker_threads';
import type { Logger, NodeHealingConfig } from '../common/index.js';
import type { ReplicationSettings } from './node-replicators.js';

/** One storage node a thread hosts. */
export interface NodeSpec {
  nodeId: string;
  dataDir: string;
  /** Background-work settings other than the defaults (the embedded default's lifecycle day). */
  healing?: Partial<NodeHealingConfig>;
  /** The gateway's region, which the node's events carry. */
  region?: string;
}

/** What a node thread is started with. */
export interface NodeThreadData {
  nodes: NodeSpec[];
  clusterSecret: string;
  /** How the thread's nodes read the versions they replicate. */
  replication: ReplicationSettings;
  logLevel: string;
  /** The host's log format, so the threads' lines look like its own (a thread's stdout is no terminal). */
  logFormat: 'pretty' | 'json';
}

/** What a node thread reports to its host. */
export type NodeThreadMessage =
  /** `link`: the node's in-process link (local-link.ts), transferred to the host for its gateway. */
  | { type: 'listening'; nodeId: string; port: number; link: MessagePort }
  | { type: 'started' }
  | { type: 'closed' }
  | { type: 'failed'; message: string };

/** Where the host reaches a node of a thread: its loopback port, and its in-process link. */
export interface HostedNode {
  port: number;
  link: MessagePort;
}

/**
 * A worker thread running some of the embedded default's storage nodes, so the nodes and the gateway
 * use every core of the machine while still talking over the node protocol on loopback, exactly as
 * in a cluster (batched calls excepted: they take each node's in-process link). `start` resolves with
 * each node's port and link once all of them listen.
 */
export class NodeThread {
  private readonly data: NodeThreadData;
  private readonly logger: Logger;
  private worker: Worker | undefined;
  private closing: Promise<void> | undefined;

  constructor(options: { nodes: NodeSpec[]; clusterSecret: string; replication: ReplicationSettings; logger: Logger; logFormat?: 'pretty' | 'json' }) {
    this.data = { nodes: options.nodes, clusterSecret: options.clusterSecret, replication: options.replication, logLevel: options.logger.level, logFormat: options.logFormat ?? 'json' };
    this.logger = options.logger;
  }

  /** Starts the thread and its nodes; resolves with each node's port and link, by node id. */
  async start(): Promise<Map<string, HostedNode>> {
    const worker = startWorker(this.data);
    this.worker = worker;
    const nodes = new Map<string, HostedNode>();
    await new Promise<void>((resolve, reject) => {
      const onMessage = (message: NodeThreadMessage): void => {
        if (message.type === 'listening') nodes.set(message.nodeId, { port: message.port, link: message.link });
        else if (message.type === 'started') settle(resolve);
        else if (message.type === 'failed') settle(() => reject(new Error(`storage node thread failed to start: ${message.message}`)));
      };
      const onError = (err: Error): void => settle(() => reject(err));
      const onExit = (code: number): void => settle(() => reject(new Error(`storage node thread exited with code ${code} while starting`)));
      const settle = (then: () => void): void => {
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
        then();
      };
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.on('exit', onExit);
    });
    worker.on('error', (err) => this.logger.error({ err, nodes: this.data.nodes.map((n) => n.nodeId) }, 'storage node thread failed'));
    return nodes;
  }

  /** Closes the thread's nodes (each finishes its writes in flight) and ends the thread. */
  close(): Promise<void> {
    return (this.closing ??= this.closeNow());
  }

  private async closeNow(): Promise<void> {
    const worker = this.worker;
    if (worker === undefined) return;
    const closed = new Promise<void>((resolve, reject) => {
      worker.on('message', (message: NodeThreadMessage) => {
        if (message.type === 'closed') resolve();
        if (message.type === 'failed') reject(new Error(`storage node thread failed to close: ${message.message}`));
      });
      worker.once('exit', () => resolve());
    });
    worker.postMessage({ type: 'close' });
    try {
      await closed;
    } finally {
      // Its nodes are closed (their writes finished, LevelDB closed): what is left in the thread, idle
      // keep-alive sockets and timers, ends with it.
      await worker.terminate();
    }
  }
}

/**
 * Starts every node at once (each start mostly waits on its disk: LevelDB, recovery's scans) and waits
 * for all of them to settle, so none is still starting when the caller closes them; then fails with the
 * first failure, naming its node.
 */
export async function startSideBySide<T extends { nodeId: string }>(specs: readonly T[], start: (spec: T) => Promise<void>): Promise<void> {
  const started = await Promise.allSettled(specs.map((spec) => start(spec).catch((err: unknown) => Promise.reject(nodeStartError(spec.nodeId, err)))));
  const failure = started.find((outcome) => outcome.status === 'rejected');
  if (failure !== undefined) throw failure.reason;
}

/**
 * A node's failure to start, naming the node and what went wrong underneath: LevelDB says only
 * "Database failed to open", and the reason (a lock held, a path that is not a directory) is its cause.
 */
function nodeStartError(nodeId: string, err: unknown): Error {
  const reasons: string[] = [];
  for (let cause: unknown = err; cause !== undefined && reasons.length < 4; cause = (cause as { cause?: unknown }).cause) {
    reasons.push(cause instanceof Error ? cause.message : String(cause));
    if (!(cause instanceof Error)) break;
  }
  return new Error(`storage node ${nodeId} did not start: ${reasons.join(': ')}`, { cause: err });
}

/**
 * Starts node-thread.ts beside this file. Run from TypeScript sources (tests, `tsx`), the thread
 * registers the same TypeScript loader first: on Node 20 a worker does not inherit the parent's hooks.
 */
function startWorker(data: NodeThreadData): Worker {
  const extension = extname(fileURLToPath(import.meta.url));
  const entry = new URL(`./node-thread${extension}`, import.meta.url);
  if (extension !== '.ts') return new Worker(entry, { workerData: data });
  const loader = import.meta.resolve('tsx/esm/api');
  const bootstrap = `import(${JSON.stringify(loader)}).then((api) => { api.register(); return import(${JSON.stringify(entry.href)}); })`;
  return new Worker(bootstrap, { eval: true, workerData: data });
}
