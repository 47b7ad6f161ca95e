import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFile, rm, writeFile, mkdtemp } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { t } from 'tap';
import { claimPath, claimPort, ephemeralLow, freePorts } from '../helpers/ports.js';
import { TesseraProcess } from '../helpers/server.js';
import { until } from '../helpers/until.js';

/**
 * Test fleets start `tessera node` on fixed ports. A port found free can be taken before the node binds
 * it; the fleet then took whatever answered /health there for its node and failed later on a signature
 * another cluster's node refused.
 */

t.test('fixed ports are distinct, below the ephemeral range and claimed by this process', async (t) => {
  const ports = await freePorts(8);
  t.equal(new Set(ports).size, 8, `distinct: ${ports.join(', ')}`);
  const low = await ephemeralLow();
  t.ok(ports.every((port) => port < low), `below ${low}, where listen(0) and outgoing connections take ports`);
  for (const port of ports) t.equal(await readFile(claimPath(port), 'utf8'), String(process.pid), `port ${port} is claimed`);
});

t.test("a live process's claim keeps its port from another test process; a dead one's is taken over", async (t) => {
  const [port] = (await freePorts(1)) as [number];
  const holder = spawn('sleep', ['600'], { stdio: 'ignore' });
  t.teardown(() => {
    if (holder.exitCode === null && holder.signalCode === null) holder.kill('SIGKILL');
  });
  await writeFile(claimPath(port), String(holder.pid));
  t.equal(await claimPort(port), false, 'held by a live process');
  holder.kill('SIGKILL');
  await once(holder, 'exit');
  t.equal(await claimPort(port), true, 'taken over once its holder is gone');
  t.equal(await readFile(claimPath(port), 'utf8'), String(process.pid));
});

t.test('a node whose port another process took is not taken for ready: it never announces the port and exits', async (t) => {
  const [port] = (await freePorts(1)) as [number];
  const squatter = createServer((_request, response) => response.end('{}'));
  squatter.listen(port, '127.0.0.1');
  await once(squatter, 'listening');
  t.teardown(() => new Promise<void>((resolve) => squatter.close(() => resolve())));
  const dataDir = await mkdtemp(join(tmpdir(), 'tessera-fixed-port-'));
  t.teardown(() => rm(dataDir, { recursive: true, force: true }));
  const node = new TesseraProcess('tessera node (port taken)', ['node', '--data', dataDir, '--listen', `127.0.0.1:${port}`, '--id', 'node-0'], { TESSERA_CLUSTER_SECRET: 'fixed-ports-secret' });
  t.teardown(() => node.stop());
  const health = await fetch(`http://127.0.0.1:${port}/health`);
  t.equal(health.status, 200, 'something answers /health on the port');
  const exit = await node.exited;
  t.not(exit.code, 0, `the node failed its start (${node.stderr.trim().split('\n').at(-1) ?? ''})`);
  t.equal(node.listensOn(port), false, 'and never logged that it listens there');
});

t.test('a node on a free fixed port announces it', async (t) => {
  const [port] = (await freePorts(1)) as [number];
  const dataDir = await mkdtemp(join(tmpdir(), 'tessera-fixed-port-'));
  t.teardown(() => rm(dataDir, { recursive: true, force: true }));
  const node = new TesseraProcess('tessera node', ['node', '--data', dataDir, '--listen', `127.0.0.1:${port}`, '--id', 'node-0'], { TESSERA_CLUSTER_SECRET: 'fixed-ports-secret' });
  t.teardown(() => node.stop());
  await until('the node to announce its port', async () => node.hasExited || node.listensOn(port), 120_000, 50);
  t.equal(node.listensOn(port), true, 'it logged that it listens on its port');
  t.equal(node.listensOn(port + 1), false, 'only the port it bound');
});
