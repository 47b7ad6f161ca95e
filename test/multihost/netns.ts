import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { pidAlive } from '../helpers/pids.js';
import { REPO_ROOT, tesseraArgs } from '../helpers/tree.js';

/**
 * A private test network of Linux network namespaces: one namespace per host, each with one veth
 * link to a bridge. The bridge lives in a "switch" namespace of its own, so the host's firewall
 * (Docker's FORWARD DROP, br_netfilter) never sees the test traffic; the root namespace joins the
 * switch through one more veth and reaches every host at its address in a /24 this run picked
 * unused from 10.203.0.0/16. Cutting a host's link sets its switch port down: packets vanish and
 * connections hang, as with a pulled cable, rather than being refused.
 *
 * Every namespace name carries the creating PID, so a later run removes what a crashed one left
 * (its namespaces, and with them every veth and the bridge). Teardown also runs synchronously on
 * process exit and on SIGINT, SIGTERM, SIGHUP and SIGALRM (tap's timeout); only SIGKILL leaves
 * anything, for the next run to remove.
 */

const run = promisify(execFile);
const NS_PREFIX = 'tessera-mh-';
/** A locally administered unicast MAC address that no veth of the test network carries. */
const NOWHERE_MAC = '02:00:00:de:ad:01';
const TEARDOWN_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGALRM'];

/** One simulated machine. */
export interface TestHost {
  name: string;
  namespace: string;
  ip: string;
  /** Its port on the bridge, in the switch namespace. */
  switchPort: string;
}

/** A process started inside a host's namespace. */
export interface HostProcess {
  host: TestHost;
  child: ChildProcess;
  pid: number;
  output(): string;
  exited: Promise<void>;
}

async function ip(...args: string[]): Promise<void> {
  try {
    await run('ip', args);
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? '';
    throw new Error(`ip ${args.join(' ')}: ${stderr.trim() || (err as Error).message}`, { cause: err });
  }
}

function namespaces(): string[] {
  try {
    return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
      .split('\n')
      .map((line) => line.split(' ')[0] ?? '')
      .filter((name) => name !== '');
  } catch {
    return [];
  }
}

/** Kills the processes inside `namespace` and deletes it (with its links); synchronous, for exit handlers. */
function removeNamespaceSync(namespace: string): void {
  try {
    const pids = execFileSync('ip', ['netns', 'pids', namespace], { encoding: 'utf8' }).split('\n').filter((p) => /^\d+$/.test(p));
    for (const pid of pids) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
  } catch {
    // No such namespace.
  }
  try {
    execFileSync('ip', ['netns', 'delete', namespace], { stdio: 'ignore' });
  } catch {
    // Already gone.
  }
}

/** Removes what earlier runs whose process is gone left behind. */
export function removeStaleNetworks(): string[] {
  const removed: string[] = [];
  for (const name of namespaces()) {
    const match = new RegExp(`^${NS_PREFIX}(\\d+)-`).exec(name);
    if (match !== null && !pidAlive(Number(match[1]))) {
      removeNamespaceSync(name);
      removed.push(name);
    }
  }
  return removed;
}

function unusedSubnet(): string {
  const inUse = execFileSync('ip', ['-4', '-o', 'addr', 'show'], { encoding: 'utf8' }) + execFileSync('ip', ['-4', 'route', 'show'], { encoding: 'utf8' });
  for (let attempt = 0; attempt < 50; attempt += 1) {
    const third = 1 + Math.floor(Math.random() * 254);
    if (!inUse.includes(`10.203.${third}.`)) return `10.203.${third}`;
  }
  throw new Error('no free 10.203.x.0/24 subnet');
}

/** The test network; create with `TestNetwork.create`, always `destroy()`. */
export class TestNetwork {
  readonly runId: string;
  readonly subnet: string;
  readonly rootIp: string;
  readonly hosts = new Map<string, TestHost>();
  private readonly switchNs: string;
  private readonly processes: HostProcess[] = [];
  private readonly exitHandler = (): void => this.destroySync();
  /** Ctrl-C, a runner's SIGTERM or tap's timeout SIGALRM: tear down, then let the signal do what it would have done. */
  private readonly signalHandler = (signal: NodeJS.Signals): void => {
    this.destroySync();
    process.kill(process.pid, signal);
  };
  private destroyed = false;

  private constructor() {
    this.runId = randomBytes(2).toString('hex');
    this.subnet = unusedSubnet();
    this.rootIp = `${this.subnet}.1`;
    this.switchNs = `${NS_PREFIX}${process.pid}-${this.runId}-switch`;
  }

  /** Builds the switch and one namespace per host name; host i gets address .(firstHostOctet + i). */
  static async create(hostNames: readonly string[], firstHostOctet = 11): Promise<TestNetwork> {
    const net = new TestNetwork();
    process.once('exit', net.exitHandler);
    for (const signal of TEARDOWN_SIGNALS) process.once(signal, net.signalHandler);
    try {
      await net.build(hostNames, firstHostOctet);
    } catch (err) {
      await net.destroy();
      throw err;
    }
    return net;
  }

  private async build(hostNames: readonly string[], firstHostOctet: number): Promise<void> {
    const sw = this.switchNs;
    const bridge = `tsb${this.runId}`;
    await ip('netns', 'add', sw);
    await ip('-n', sw, 'link', 'set', 'lo', 'up');
    await ip('-n', sw, 'link', 'add', bridge, 'type', 'bridge');
    await ip('-n', sw, 'link', 'set', bridge, 'up');
    // The root namespace's own port on the switch, from which the test drives clients.
    const rootLink = `tsr${this.runId}`;
    await ip('link', 'add', rootLink, 'type', 'veth', 'peer', 'name', `tsu${this.runId}`, 'netns', sw);
    await ip('-n', sw, 'link', 'set', `tsu${this.runId}`, 'master', bridge, 'up');
    await ip('addr', 'add', `${this.rootIp}/24`, 'dev', rootLink);
    await ip('link', 'set', rootLink, 'up');
    for (const [i, name] of hostNames.entries()) {
      const host: TestHost = {
        name,
        namespace: `${NS_PREFIX}${process.pid}-${this.runId}-${name}`,
        ip: `${this.subnet}.${firstHostOctet + i}`,
        switchPort: `tsp${this.runId}${i}`,
      };
      await ip('netns', 'add', host.namespace);
      await ip('-n', host.namespace, 'link', 'set', 'lo', 'up');
      await ip('-n', sw, 'link', 'add', host.switchPort, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', host.namespace);
      await ip('-n', sw, 'link', 'set', host.switchPort, 'master', bridge, 'up');
      await ip('-n', host.namespace, 'addr', 'add', `${host.ip}/24`, 'dev', 'eth0');
      await ip('-n', host.namespace, 'link', 'set', 'eth0', 'up');
      this.hosts.set(name, host);
    }
  }

  /** The host named `name`. */
  host(name: string): TestHost {
    const host = this.hosts.get(name);
    if (host === undefined) throw new Error(`no host ${name}`);
    return host;
  }

  /** Pulls the host's cable: its switch port goes down. */
  async cut(name: string): Promise<void> {
    await ip('-n', this.switchNs, 'link', 'set', this.host(name).switchPort, 'down');
  }

  /** Plugs it back in. */
  async restore(name: string): Promise<void> {
    await ip('-n', this.switchNs, 'link', 'set', this.host(name).switchPort, 'up');
  }

  /**
   * Cuts the link between two hosts only (each still reaches every other host): each one's neighbour
   * entry for the other points at a MAC address no host has, so their packets vanish on the switch and
   * connections hang, as with a pulled cable between just those two.
   */
  async cutBetween(a: string, b: string): Promise<void> {
    const [hostA, hostB] = [this.host(a), this.host(b)];
    await ip('-n', hostA.namespace, 'neigh', 'replace', hostB.ip, 'lladdr', NOWHERE_MAC, 'dev', 'eth0', 'nud', 'permanent');
    await ip('-n', hostB.namespace, 'neigh', 'replace', hostA.ip, 'lladdr', NOWHERE_MAC, 'dev', 'eth0', 'nud', 'permanent');
  }

  /** Undoes `cutBetween`: the two hosts resolve each other's addresses again. */
  async restoreBetween(a: string, b: string): Promise<void> {
    const [hostA, hostB] = [this.host(a), this.host(b)];
    await ip('-n', hostA.namespace, 'neigh', 'del', hostB.ip, 'dev', 'eth0');
    await ip('-n', hostB.namespace, 'neigh', 'del', hostA.ip, 'dev', 'eth0');
  }

  /** Starts `tessera ARGS` inside the host's namespace as its own process. */
  startTessera(name: string, args: readonly string[], env: Record<string, string>): HostProcess {
    const host = this.host(name);
    // `ip netns exec` enters the namespace and execs node, so the PID is node's own.
    const child = spawn('ip', ['netns', 'exec', host.namespace, process.execPath, ...tesseraArgs(...args)], {
      cwd: REPO_ROOT,
      env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: process.env['HOME'] ?? '/root', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (child.pid === undefined) throw new Error(`${name}: spawn failed`);
    let output = '';
    const keep = (chunk: string): void => {
      output = (output + chunk).slice(-32 * 1024);
    };
    child.stdout?.setEncoding('utf8').on('data', keep);
    child.stderr?.setEncoding('utf8').on('data', keep);
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const started: HostProcess = { host, child, pid: child.pid, output: () => output, exited };
    this.processes.push(started);
    return started;
  }

  /** Stops the processes this network started (SIGTERM, then SIGKILL), then deletes every namespace, veth and the bridge. */
  async destroy(): Promise<void> {
    await Promise.all(
      this.processes.map(async (p) => {
        if (p.child.exitCode !== null || p.child.signalCode !== null) return;
        p.child.kill('SIGTERM');
        const timer = setTimeout(() => p.child.kill('SIGKILL'), 3_000);
        await p.exited;
        clearTimeout(timer);
      }),
    );
    this.destroySync();
  }

  /** Synchronous teardown, safe to call twice and from an exit handler. */
  destroySync(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    process.removeListener('exit', this.exitHandler);
    for (const signal of TEARDOWN_SIGNALS) process.removeListener(signal, this.signalHandler);
    for (const p of this.processes) {
      if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    }
    for (const host of this.hosts.values()) removeNamespaceSync(host.namespace);
    // Deleting the switch removes the bridge and the root namespace's veth with it.
    removeNamespaceSync(this.switchNs);
    try {
      execFileSync('ip', ['link', 'delete', `tsr${this.runId}`], { stdio: 'ignore' });
    } catch {
      // Already removed with its peer.
    }
  }

  /** Whether anything of this run is still present (for the cleanup assertion). */
  leftovers(): string[] {
    const mine = namespaces().filter((name) => name.startsWith(`${NS_PREFIX}${process.pid}-${this.runId}-`));
    let links = '';
    try {
      links = execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' });
    } catch {
      // ip gone: nothing to report.
    }
    return links.includes(`tsr${this.runId}`) ? [...mine, `tsr${this.runId}`] : mine;
  }
}

/** Why the multi-host test cannot run here, or undefined when it can. */
export async function multihostUnavailable(): Promise<string | undefined> {
  if (process.platform !== 'linux') return 'network namespaces need Linux';
  if (process.getuid?.() !== 0) return 'network namespaces need root';
  try {
    await run('ip', ['-V']);
  } catch {
    return 'the ip command (iproute2) is missing';
  }
  const probe = `${NS_PREFIX}${process.pid}-probe`;
  try {
    await run('ip', ['netns', 'add', probe]);
  } catch (err) {
    return `cannot create a network namespace: ${((err as { stderr?: string }).stderr ?? (err as Error).message).trim()}`;
  } finally {
    removeNamespaceSync(probe);
  }
  return undefined;
}
