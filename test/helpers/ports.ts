import { unlinkSync } from 'node:fs';
import { mkdir, open, readFile, unlink } from 'node:fs/promises';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pidAlive } from './pids.js';

/**
 * Fixed ports for test processes that must keep their port across restarts (`tessera node --listen
 * 127.0.0.1:PORT`), where binding port 0 is no answer.
 *
 * A port found free and released again can be taken before its process binds it. Two things took them:
 * - every kernel-assigned port (a `listen(0)` of another test file's embedded cluster, an outgoing
 *   connection's local port) comes from the ephemeral range, so ports are picked below it;
 * - another test process picking at the same time, so each port is claimed by a file under a shared
 *   directory, held until the claiming process exits.
 */

const CLAIMS_DIR = join(tmpdir(), 'tessera-test-ports');
/** The lowest port handed out: above the registered services most machines run. */
const LOWEST_PORT = 20_000;
/** Used when the ephemeral range cannot be read (not Linux): the IANA dynamic range starts here. */
const DEFAULT_EPHEMERAL_LOW = 49_152;

const claimed = new Set<number>();
process.once('exit', () => {
  for (const port of claimed) {
    try {
      unlinkSync(claimPath(port));
    } catch {
      // Already gone: another process found this one dead and took the port over.
    }
  }
});

/** The lowest port of the kernel's ephemeral range, where every port-0 listener and outgoing connection gets its port. */
export async function ephemeralLow(): Promise<number> {
  try {
    const [low] = (await readFile('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')).trim().split(/\s+/);
    const value = Number(low);
    return Number.isInteger(value) && value > 0 ? value : DEFAULT_EPHEMERAL_LOW;
  } catch {
    return DEFAULT_EPHEMERAL_LOW;
  }
}

/** The claim file of `port`: it holds the pid of the test process that uses the port. */
export function claimPath(port: number): string {
  return join(CLAIMS_DIR, String(port));
}

/** Takes the claim file of `port` for this process; false when a live process holds it. */
export async function claimPort(port: number): Promise<boolean> {
  await mkdir(CLAIMS_DIR, { recursive: true });
  const path = claimPath(port);
  for (let attempt = 0; attempt < 2; attempt += 1) {
    try {
      const file = await open(path, 'wx');
      await file.writeFile(String(process.pid));
      await file.close();
      claimed.add(port);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    let holder: number;
    try {
      holder = Number(await readFile(path, 'utf8'));
    } catch {
      continue;
    }
    // A claim being written has no pid yet: taken.
    if (!Number.isInteger(holder) || holder <= 0 || pidAlive(holder)) return false;
    await unlink(path).catch(() => undefined);
  }
  return false;
}

/** True when nothing listens on `port` right now. */
async function bindable(port: number, host: string): Promise<boolean> {
  const server = createServer();
  server.listen(port, host);
  try {
    await once(server, 'listening');
  } catch {
    return false;
  }
  await new Promise((resolve) => server.close(resolve));
  return true;
}

/**
 * `count` distinct ports nobody listens on, below the ephemeral range and claimed for this process, so
 * neither a kernel-assigned port nor another test process's pick can take them before they are bound.
 */
export async function freePorts(count: number, host = '127.0.0.1'): Promise<number[]> {
  const high = Math.max(LOWEST_PORT + 1_000, await ephemeralLow());
  const span = high - LOWEST_PORT;
  const ports: number[] = [];
  let candidate = LOWEST_PORT + Math.floor(Math.random() * span);
  for (let tried = 0; ports.length < count; tried += 1) {
    if (tried >= span) throw new Error(`no ${count} free ports between ${LOWEST_PORT} and ${high}`);
    candidate = LOWEST_PORT + ((candidate - LOWEST_PORT + 1) % span);
    if (claimed.has(candidate)) continue;
    if (!(await claimPort(candidate))) continue;
    if (await bindable(candidate, host)) ports.push(candidate);
  }
  return ports;
}
