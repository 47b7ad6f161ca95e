import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

/** How many output lines of a child are kept, to explain a failed start. */
const TAIL_LINES = 40;
/** How long a child gets to exit after SIGTERM before it is killed. */
const STOP_GRACE_MS = 10_000;

/**
 * A process the benchmark runs as its child (so its CPU can be read from /proc by PID): a server started with `node`,
 * or another program; its stdout and stderr drained line by line (a full pipe would stall it), stopped by PID with
 * SIGTERM and then SIGKILL.
 */
export class ChildServer {
  readonly name: string;
  readonly pid: number;
  private readonly child: ChildProcess;
  private readonly tail: string[] = [];
  private readonly exited: Promise<void>;
  private exitDescription: string | undefined;
  private readonly killOnExit = (): void => {
    // The benchmark is going away without having stopped this child: do not leave a server running.
    if (this.exitDescription === undefined) process.kill(this.pid, 'SIGKILL');
  };

  /**
   * Spawns `command <args>` (default: this Node) and resolves once `ready(line)` returns a value for one of its output lines (and `check`,
   * if given, then resolves), with that value. Rejects with the child's last output if it exits first or
   * `timeoutMs` passes.
   */
  static async start<T>(options: {
    name: string;
    args: readonly string[];
    ready: (line: string) => T | undefined;
    check?: (value: T) => Promise<void>;
    timeoutMs: number;
    command?: string;
    /** Keep stdin open for `send` (otherwise it is /dev/null). */
    stdin?: boolean;
  }): Promise<{ server: ChildServer; value: T }> {
    const server = new ChildServer(options.name, options.command ?? process.execPath, options.args, options.stdin ?? false);
    try {
      const value = await server.waitForLine(options.ready, options.timeoutMs);
      await options.check?.(value);
      return { server, value };
    } catch (err) {
      await server.stop();
      throw err;
    }
  }

  private readonly lineListeners = new Set<(line: string) => void>();

  private constructor(name: string, command: string, args: readonly string[], stdin: boolean) {
    this.name = name;
    this.child = spawn(command, args, { stdio: [stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
    // A command that does not exist fails asynchronously; its 'exit' (code -2 or so) still ends any wait.
    this.child.on('error', () => undefined);
    if (this.child.pid === undefined) {
      this.exitDescription = `could not start ${command}`;
      this.pid = -1;
      this.exited = Promise.resolve();
      return;
    }
    this.pid = this.child.pid;
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.exitDescription = signal === null ? `exit code ${code}` : `signal ${signal}`;
        process.off('exit', this.killOnExit);
        resolve();
      });
    });
    process.on('exit', this.killOnExit);
    for (const stream of [this.child.stdout, this.child.stderr]) {
      if (stream === null) continue;
      createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => {
        this.tail.push(line);
        if (this.tail.length > TAIL_LINES) this.tail.shift();
        for (const listener of this.lineListeners) listener(line);
      });
    }
  }

  /** Whether the process is still running. */
  get running(): boolean {
    return this.exitDescription === undefined;
  }

  /** The child's last output lines, for an error message. */
  lastOutput(): string {
    return this.tail.map((line) => `    ${line}`).join('\n');
  }

  /** Writes one line to the child's stdin (started with `stdin: true`). */
  send(line: string): void {
    if (this.child.stdin === null) throw new Error(`${this.name} has no stdin`);
    this.child.stdin.write(`${line}\n`);
  }

  /** Stops the child by PID: SIGTERM, then SIGKILL if it has not exited within the grace period. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const killed = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        if (this.running) this.child.kill('SIGKILL');
        resolve();
      }, STOP_GRACE_MS);
    });
    await Promise.race([this.exited, killed]);
    clearTimeout(timer);
    await this.exited;
  }

  /**
   * Resolves with the first value `parse` returns for an output line from now on; rejects with the last output if the
   * child exits first or `timeoutMs` passes.
   */
  waitForLine<T>(parse: (line: string) => T | undefined, timeoutMs: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => fail(`gave no answer within ${timeoutMs / 1000} s`), timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        this.lineListeners.delete(onLine);
      };
      const fail = (why: string): void => {
        done();
        reject(new Error(`${this.name} ${why}; its last output:\n${this.lastOutput()}`));
      };
      const onLine = (line: string): void => {
        const value = parse(line);
        if (value === undefined) return;
        done();
        resolve(value);
      };
      this.lineListeners.add(onLine);
      void this.exited.then(() => {
        if (this.lineListeners.has(onLine)) fail(`exited (${this.exitDescription ?? '?'})`);
      });
    });
  }
}
