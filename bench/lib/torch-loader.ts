import { fileURLToPath } from 'node:url';
import { ChildServer } from './child-server.js';

const SCRIPT = fileURLToPath(new URL('./torch-loader-bench.py', import.meta.url));
/** Pythons tried in order: the one on PATH, then Debian's (where python3-torch and python3-boto3 install). */
const PYTHONS = ['python3', '/usr/bin/python3'] as const;
/** Importing torch takes seconds on a quiet machine and much longer on a loaded one. */
const IMPORT_TIMEOUT_MS = 180_000;

/** What one DataLoader pass over a target's objects measured (see torch-loader-bench.py). */
export interface LoaderResult {
  samples: number;
  errors: number;
  firstError: string | null;
  wallSeconds: number;
  firstBatchSeconds: number | null;
  /** Per-sample GET latency inside the workers; null when no sample was read. */
  p50Ms: number | null;
  p99Ms: number | null;
}

/** One pass: which target, which objects (`prefix/0` .. `prefix/count-1`), the base payload file, loader settings. */
export interface LoaderRequest {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  bucket: string;
  prefix: string;
  count: number;
  basePath: string;
  numWorkers: number;
  batchSize: number;
}

/** A long-lived python child with torch and boto3 imported once, running one DataLoader pass per request. */
export class TorchLoader {
  readonly python: string;
  readonly versions: string;
  private readonly child: ChildServer;

  private constructor(python: string, versions: string, child: ChildServer) {
    this.python = python;
    this.versions = versions;
    this.child = child;
  }

  /** Starts the script with the first python that imports torch and boto3; otherwise says why each could not. */
  static async start(): Promise<TorchLoader | { skipped: string }> {
    const reasons: string[] = [];
    for (const python of PYTHONS) {
      try {
        const { server, value } = await ChildServer.start({
          name: python,
          command: python,
          args: [SCRIPT],
          stdin: true,
          timeoutMs: IMPORT_TIMEOUT_MS,
          ready: (line) => (line.startsWith('{"ready"') ? (JSON.parse(line) as { ready: Record<string, string> }).ready : undefined),
        });
        const versions = Object.entries(value).map(([name, version]) => `${name} ${version}`).join(', ');
        return new TorchLoader(python, versions, server);
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        const lines = message.split('\n').map((line) => line.trim()).filter((line) => line !== '');
        reasons.push(`${python}: ${lines.find((line) => /Error|No module/.test(line)) ?? lines.at(-1) ?? message}`);
      }
    }
    return { skipped: `no python with torch and boto3 (${reasons.join('; ')}); on Debian: apt-get install python3-torch python3-boto3` };
  }

  /** The python process; its DataLoader workers are its children. */
  get pid(): number {
    return this.child.pid;
  }

  /** Runs one DataLoader pass and resolves with what the script measured. */
  async run(request: LoaderRequest, timeoutMs: number): Promise<LoaderResult> {
    const answer = this.child.waitForLine(
      (line) => (line.startsWith('{"result"') ? (JSON.parse(line) as { result: LoaderResult }).result : undefined),
      timeoutMs,
    );
    this.child.send(JSON.stringify(request));
    return answer;
  }

  /** Stops the python process by PID. */
  async close(): Promise<void> {
    await this.child.stop();
  }
}
