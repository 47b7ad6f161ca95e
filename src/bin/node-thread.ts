/**
 * Entry of a worker thread that hosts some of the embedded default's storage nodes (node-threads.ts
 * starts it). The nodes are the same StorageNode a cluster runs, serving the node protocol on loopback;
 * the thread only gives them a core of their own.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createRootLogger } from '../common/index.js';
import { StorageNode } from '../storage-node/index.js';
import { nodeReplicators } from './node-replicators.js';
import { startSideBySide, type NodeThreadData, type NodeThreadMessage } from './node-threads.js';

async function main(): Promise<void> {
  const port = parentPort;
  if (port === null) throw new Error('node-thread.ts runs only as a worker thread');
  const data = workerData as NodeThreadData;
  const logger = createRootLogger({ level: data.logLevel, format: data.logFormat });
  const nodes: StorageNode[] = [];
  let replicators: Awaited<ReturnType<typeof nodeReplicators>> | undefined;
  const send = (message: NodeThreadMessage): void => port.postMessage(message, message.type === 'listening' ? [message.link] : []);
  const closeAll = async (): Promise<void> => {
    for (const node of nodes) await node.close();
    await replicators?.close();
  };
  port.on('message', (message: { type: 'close' }) => {
    if (message.type !== 'close') return;
    // Its nodes closed (writes finished, LevelDB closed), the thread ends: idle sockets and timers go with it.
    void closeAll().then(
      () => {
        send({ type: 'closed' });
        process.exit(0);
      },
      (err: unknown) => send({ type: 'failed', message: err instanceof Error ? err.message : String(err) }),
    );
  });
  try {
    const made = nodeReplicators(data.replication, data.clusterSecret, logger);
    replicators = made;
    await startSideBySide(data.nodes, async (spec) => {
      const node = new StorageNode({
        nodeId: spec.nodeId,
        dataDir: spec.dataDir,
        host: '127.0.0.1',
        port: 0,
        clusterSecret: data.clusterSecret,
        logger,
        ...(spec.healing === undefined ? {} : { healing: spec.healing }),
        ...(spec.region === undefined ? {} : { region: spec.region }),
        replicators: made.factory,
      });
      nodes.push(node);
      const address = await node.start();
      send({ type: 'listening', nodeId: spec.nodeId, port: address.port, link: node.openLocalLink() });
    });
    send({ type: 'started' });
  } catch (err) {
    await closeAll().catch(() => undefined);
    send({ type: 'failed', message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
    port.close();
  }
}

void main();
