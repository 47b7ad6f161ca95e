import { execFileSync, spawn } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { chmod, cp, mkdir, readdir, readFile, stat, symlink } from 'node:fs/promises';
import { createServer } from 'node:net';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ClientSettings, Target } from './targets.js';
import { S3BenchClient } from './s3-bench-client.js';

/** The repository this bench runs from (bench/lib/../..). */
const REPOSITORY = fileURLToPath(new URL('../..', import.meta.url));
/** Where the peers' bring-up scripts (`ceph/start.sh`, `ceph/stop.sh`, `loadgen/`) say Ceph serves S3, and as whom. */
const RGW_ENDPOINT = 'http://127.0.0.1:7480';
const RGW_CREDENTIALS = { accessKeyId: 'bench', secretAccessKey: 'benchsecret' } as const;
/** Ports a fresh cluster binds: radosgw's beast front end and the monitor (msgr v2). */
const CEPH_PORTS = [7480, 3300] as const;
/** The programs start.sh runs; all must be on PATH. */
const CEPH_PROGRAMS = ['radosgw', 'radosgw-admin', 'ceph-mon', 'ceph-osd', 'ceph', 'monmaptool'] as const;
/** start.sh takes about a minute on a quiet machine (mon, OSD mkfs, radosgw's first pools); far longer when loaded. */
const START_TIMEOUT_MS = 600_000;
/** How long a daemon gets to exit after SIGTERM before it is killed. */
const STOP_GRACE_MS = 20_000;
/** Daemons in the order they are stopped: the front end first, the monitor last. */
const DAEMONS = ['rgw', 'osd', 'mon'] as const;
const TAIL_LINES = 30;

/**
 * The peers' Ceph scripts directory: `flag` (--ceph-scripts), else `peersDir`/ceph (TESSERA_PEERS_DIR), else
 * ../shared/peers/ceph beside the repository (for a git worktree, beside its main checkout too); undefined when none
 * has a start.sh.
 */
export function findCephScripts(flag: string | undefined, peersDir: string | undefined): string | undefined {
  if (flag !== undefined) return flag;
  const candidates = peersDir === undefined ? [] : [join(peersDir, 'ceph')];
  for (const checkout of [REPOSITORY, mainCheckout()]) if (checkout !== undefined) candidates.push(join(checkout, '..', 'shared', 'peers', 'ceph'));
  return candidates.find((dir) => existsSync(join(dir, 'start.sh')));
}

/** The main checkout of the repository, when this one is a git worktree of it. */
function mainCheckout(): string | undefined {
  try {
    const common = execFileSync('git', ['-C', REPOSITORY, 'rev-parse', '--path-format=absolute', '--git-common-dir'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return common.endsWith('/.git') ? dirname(common) : undefined;
  } catch {
    return undefined;
  }
}

/** Why Ceph RGW cannot be brought up here (a program missing from PATH, no scripts), or undefined when it can be tried. */
export function rgwUnavailable(scriptsDir: string | undefined, path: string): string | undefined {
  const missing = CEPH_PROGRAMS.filter((program) => !onPath(program, path));
  if (missing.length > 0) return `not installed (${missing.join(', ')} not on PATH; apt-get install --no-install-recommends ceph-mon ceph-osd radosgw ceph-common)`;
  if (scriptsDir === undefined) return 'not installed (no Ceph bring-up scripts: --ceph-scripts DIR or TESSERA_PEERS_DIR)';
  for (const script of ['start.sh', 'setup.sh']) if (!existsSync(join(scriptsDir, script))) return `not installed (no ${script} in ${scriptsDir})`;
  return undefined;
}

function onPath(program: string, path: string): boolean {
  return path.split(delimiter).some((dir) => {
    if (dir === '') return false;
    try {
      accessSync(join(dir, program), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/**
 * A fresh single-node Ceph cluster (1 mon, 1 OSD, radosgw) brought up by the peers' start.sh with everything under
 * `root`, and stopped by the PIDs its daemons recorded. The scripts are copied first (their directory may be read-only)
 * beside the load generator start.sh runs, which finds undici in this repository's node_modules.
 */
export class RgwPeer {
  readonly version: string;
  private readonly pidsByDaemon: ReadonlyMap<string, number>;
  private stopping: Promise<void> | undefined;
  private readonly killOnExit = (): void => {
    // The bench is going away without having stopped the daemons: do not leave a cluster running.
    for (const pid of this.pidsByDaemon.values()) signal(pid, 'SIGKILL');
  };

  private constructor(version: string, pidsByDaemon: ReadonlyMap<string, number>) {
    this.version = version;
    this.pidsByDaemon = pidsByDaemon;
    process.on('exit', this.killOnExit);
  }

  /** radosgw, ceph-osd and ceph-mon: the processes a request to RGW costs. */
  get pids(): number[] {
    return DAEMONS.flatMap((daemon) => {
      const pid = this.pidsByDaemon.get(daemon);
      return pid === undefined ? [] : [pid];
    });
  }

  /**
   * Runs start.sh from `scriptsDir` with its cluster in `root` and resolves once RGW answers with the bucket "bench"
   * made. `abort` (SIGINT) stops start.sh and whatever daemons it had started. On failure the daemons are stopped and
   * the error carries start.sh's last output.
   */
  static async start(scriptsDir: string, root: string, abort: AbortSignal): Promise<RgwPeer> {
    if (abort.aborted) throw new Error('interrupted before Ceph started');
    for (const port of CEPH_PORTS) await assertPortFree(port);
    const tools = join(root, 'tools');
    const peersRoot = join(root, 'cluster');
    await mkdir(tools, { recursive: true });
    await cp(scriptsDir, join(tools, 'ceph'), { recursive: true });
    const loadgen = join(scriptsDir, '..', 'loadgen');
    if (existsSync(loadgen)) await cp(loadgen, join(tools, 'loadgen'), { recursive: true });
    await makeWritable(tools);
    await symlink(join(REPOSITORY, 'node_modules'), join(tools, 'node_modules'), 'dir');
    const tail: string[] = [];
    const child = spawn('bash', [join(tools, 'ceph', 'start.sh')], { env: { ...process.env, PEERS_ROOT: peersRoot }, stdio: ['ignore', 'pipe', 'pipe'] });
    for (const stream of [child.stdout, child.stderr]) {
      stream.setEncoding('utf8');
      stream.on('data', (text: string) => {
        tail.push(...text.split('\n').filter((line) => line !== ''));
        tail.splice(0, Math.max(0, tail.length - TAIL_LINES));
      });
    }
    const stopStart = (): void => {
      if (child.exitCode === null && child.pid !== undefined) signal(child.pid, 'SIGTERM');
    };
    abort.addEventListener('abort', stopStart);
    const timer = setTimeout(stopStart, START_TIMEOUT_MS);
    const outcome = await new Promise<string>((resolve) => {
      child.once('error', (err) => resolve(err.message));
      child.once('exit', (code, sig) => resolve(code === 0 ? '' : sig === null ? `exit code ${code}` : `signal ${sig}`));
    });
    clearTimeout(timer);
    abort.removeEventListener('abort', stopStart);
    const peer = new RgwPeer(cephVersion(), await readDaemonPids(join(peersRoot, 'ceph', 'run')));
    const failed = abort.aborted ? 'interrupted' : outcome !== '' ? outcome : peer.pids.length < DAEMONS.length ? 'a daemon did not record its PID' : undefined;
    if (failed !== undefined) {
      await peer.stop();
      const logs = await daemonLogTails(join(peersRoot, 'ceph', 'log'));
      throw new Error(`Ceph start.sh failed (${failed}); its last output:\n${tail.map((line) => `    ${line}`).join('\n')}${logs}`);
    }
    return peer;
  }

  /** Stops radosgw, then the OSD, then the monitor, each by its PID: SIGTERM, SIGKILL after a grace period. */
  stop(): Promise<void> {
    return (this.stopping ??= (async () => {
      for (const daemon of DAEMONS) {
        const pid = this.pidsByDaemon.get(daemon);
        if (pid !== undefined) await stopPid(pid);
      }
      process.off('exit', this.killOnExit);
    })());
  }

  /** The peer as a bench target, loaded by the same client settings as the others. */
  target(settings: ClientSettings): Target {
    return {
      name: 'rgw',
      description: `Ceph RGW ${this.version} (1 mon, 1 OSD BlueStore on a sparse file, pool size 1, beast), pids ${DAEMONS.map((d) => `${d} ${this.pidsByDaemon.get(d) ?? '?'}`).join(', ')}`,
      pids: this.pids,
      stop: () => this.stop(),
      endpoint: RGW_ENDPOINT,
      ...RGW_CREDENTIALS,
      client: new S3BenchClient({ endpoint: RGW_ENDPOINT, ...RGW_CREDENTIALS, ...settings }),
    };
  }
}

async function assertPortFree(port: number): Promise<void> {
  const server = createServer();
  try {
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, '127.0.0.1', resolve));
  } catch (err) {
    throw new Error(`port ${port} is taken (another Ceph running?): ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  await new Promise((resolve) => server.close(resolve));
}

/** Copied files keep the mode of a read-only source; the bench removes its temporary directory afterwards. */
async function makeWritable(dir: string): Promise<void> {
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    const path = join(entry.parentPath, entry.name);
    await chmod(path, (await stat(path)).mode | 0o200);
  }
  await chmod(dir, 0o755);
}

async function readDaemonPids(runDir: string): Promise<Map<string, number>> {
  const pids = new Map<string, number>();
  for (const daemon of DAEMONS) {
    try {
      const pid = Number((await readFile(join(runDir, `${daemon}.pid`), 'utf8')).trim());
      if (Number.isInteger(pid) && pid > 1) pids.set(daemon, pid);
    } catch {
      // Not started (start.sh failed earlier).
    }
  }
  return pids;
}

async function daemonLogTails(logDir: string): Promise<string> {
  const parts: string[] = [];
  for (const name of ['mon.stdout', 'osd.stdout', 'rgw.stdout', 'osd-mkfs.log']) {
    try {
      const lines = (await readFile(join(logDir, name), 'utf8')).split('\n').filter((line) => line !== '').slice(-5);
      if (lines.length > 0) parts.push(`\n  ${name}:\n${lines.map((line) => `    ${line}`).join('\n')}`);
    } catch {
      // No such log.
    }
  }
  return parts.join('');
}

function cephVersion(): string {
  try {
    const text = execFileSync('radosgw', ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 });
    return /ceph version (\S+)/.exec(text)?.[1] ?? '?';
  } catch {
    return '?';
  }
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // Already gone.
  }
}

/** Whether `pid` still runs: a zombie (exited, not yet reaped by its new parent) counts as gone. */
function alive(pid: number): boolean {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return text.slice(text.lastIndexOf(')') + 2, text.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  }
}

async function stopPid(pid: number): Promise<void> {
  signal(pid, 'SIGTERM');
  const deadline = performance.now() + STOP_GRACE_MS;
  // The daemons are not this process's children (start.sh exits after starting them), so there is no 'exit' event:
  // poll until the PID is gone.
  while (alive(pid)) {
    if (performance.now() > deadline) {
      signal(pid, 'SIGKILL');
      if (performance.now() > deadline + STOP_GRACE_MS) return;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
