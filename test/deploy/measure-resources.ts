/**
 * Measures what a storage node process and a gateway process use under load, to size the
 * resource requests in deploy/ (not a test: run it by hand, it takes about a minute).
 *
 *   npm run build && node --import tsx test/deploy/measure-resources.ts [--entry dist/bin/tessera.js] [--seconds 30]
 *
 * Six `tessera node` processes and one `tessera gateway` run on loopback; clients in this process
 * keep `--concurrency` PUT+GET round trips of `--size-mib` objects in flight, then a phase of 64 MiB
 * objects. Every 200 ms it samples each process's resident set (/proc/PID/status VmRSS) and CPU time
 * (/proc/PID/stat), and prints the peak RSS (VmHWM) and the CPU cores used per role.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const { values } = parseArgs({
  options: {
    entry: { type: 'string', default: 'dist/bin/tessera.js' },
    seconds: { type: 'string', default: '30' },
    concurrency: { type: 'string', default: '16' },
    'size-mib': { type: 'string', default: '4' },
  },
});
const entry = join(REPO_ROOT, values.entry);
const seconds = Number(values.seconds);
const concurrency = Number(values.concurrency);
const sizeBytes = Number(values['size-mib']) * 1024 * 1024;
const CLK_TCK = 100;

interface Sampled {
  role: 'node' | 'gateway';
  child: ChildProcess;
  peakRssKiB: number;
  firstCpuTicks: number;
  lastCpuTicks: number;
}

async function procStatus(pid: number): Promise<{ rssKiB: number; hwmKiB: number; cpuTicks: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const stat = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
  const kib = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
  // Fields 14 and 15 (utime, stime) are at 11 and 12 after the command name.
  return { rssKiB: kib('VmRSS'), hwmKiB: kib('VmHWM'), cpuTicks: Number(stat[11]) + Number(stat[12]) };
}

async function waitHealthy(url: string): Promise<void> {
  for (let i = 0; i < 300; i += 1) {
    try {
      if ((await fetch(url, { signal: AbortSignal.timeout(1_000) })).ok) return;
    } catch {
      // Not up yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${url} never became healthy`);
}

const dir = await mkdtemp(join(tmpdir(), 'tessera-measure-'));
const processes: Sampled[] = [];
const start = (role: Sampled['role'], args: string[], env: Record<string, string>): void => {
  const child = spawn(process.execPath, [entry, ...args], { cwd: REPO_ROOT, env: { PATH: process.env['PATH'] ?? '', TESSERA_LOG_LEVEL: 'warn', ...env }, stdio: 'inherit' });
  processes.push({ role, child, peakRssKiB: 0, firstCpuTicks: 0, lastCpuTicks: 0 });
};
try {
  const secret = randomBytes(32).toString('hex');
  await writeFile(join(dir, 'secret'), secret, { mode: 0o600 });
  const basePort = 19_100 + Math.floor(Math.random() * 500) * 10;
  const nodes = Array.from({ length: 6 }, (_, i) => ({ id: `n${i}`, address: `127.0.0.1:${basePort + i}`, zone: 'abc'[i % 3]! }));
  for (const node of nodes) start('node', ['node', '--data', join(dir, node.id), '--listen', node.address, '--id', node.id, '--secret-file', join(dir, 'secret')], {});
  await Promise.all(nodes.map((node) => waitHealthy(`http://${node.address}/health`)));
  const gatewayAddress = `127.0.0.1:${basePort + 9}`;
  await writeFile(join(dir, 'gateway.json'), JSON.stringify({ listen: gatewayAddress, credentials: [{ accessKeyId: 'm', secretAccessKey: 'measure' }], clusterSecretFile: 'secret', nodes }));
  start('gateway', ['gateway', '--config', join(dir, 'gateway.json')], {});
  await waitHealthy(`http://${gatewayAddress}/-/health/ready`);
  for (const p of processes) p.firstCpuTicks = p.lastCpuTicks = (await procStatus(p.child.pid!)).cpuTicks;
  const s3 = new S3Client({ endpoint: `http://${gatewayAddress}`, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'm', secretAccessKey: 'measure' } });
  await s3.send(new CreateBucketCommand({ Bucket: 'measure' }));
  let bytes = 0;
  const sampler = setInterval(() => {
    for (const p of processes) {
      void procStatus(p.child.pid!).then((s) => {
        p.peakRssKiB = Math.max(p.peakRssKiB, s.hwmKiB);
        p.lastCpuTicks = s.cpuTicks;
      }, () => undefined);
    }
  }, 200);
  const t0 = Date.now();
  const phase = async (workers: number, objectBytes: number, untilMs: number): Promise<void> => {
    const body = randomBytes(objectBytes);
    await Promise.all(
      Array.from({ length: workers }, async (_, w) => {
        for (let i = 0; Date.now() < untilMs; i += 1) {
          await s3.send(new PutObjectCommand({ Bucket: 'measure', Key: `w${w}/${i % 8}`, Body: body }));
          const got = await s3.send(new GetObjectCommand({ Bucket: 'measure', Key: `w${w}/${i % 8}` }));
          for await (const chunk of got.Body as AsyncIterable<Uint8Array>) bytes += chunk.length;
          bytes += objectBytes;
        }
      }),
    );
  };
  await phase(concurrency, sizeBytes, t0 + seconds * 1_000);
  await phase(4, 64 * 1024 * 1024, Date.now() + (seconds * 1_000) / 2);
  const wallSeconds = (Date.now() - t0) / 1_000;
  clearInterval(sampler);
  await new Promise((resolve) => setTimeout(resolve, 300));
  s3.destroy();
  console.log(`load: ${concurrency} x ${values['size-mib']} MiB PUT+GET for ${seconds} s, then 4 x 64 MiB for ${seconds / 2} s; ${(bytes / wallSeconds / 1e6).toFixed(0)} MB/s through the gateway; node ${process.version}`);
  for (const role of ['node', 'gateway'] as const) {
    const mine = processes.filter((p) => p.role === role);
    const peak = Math.max(...mine.map((p) => p.peakRssKiB)) / 1024;
    const cores = mine.map((p) => (p.lastCpuTicks - p.firstCpuTicks) / CLK_TCK / wallSeconds);
    console.log(`${role}: peak RSS ${peak.toFixed(0)} MiB (max over ${mine.length}), CPU ${Math.max(...cores).toFixed(2)} cores (max), ${(cores.reduce((a, b) => a + b, 0) / mine.length).toFixed(2)} (mean)`);
  }
} finally {
  for (const p of processes) p.child.kill('SIGTERM');
  await Promise.all(processes.map((p) => new Promise((resolve) => (p.child.exitCode === null ? p.child.once('exit', resolve) : resolve(undefined)))));
  await rm(dir, { recursive: true, force: true });
}
