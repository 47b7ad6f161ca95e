/** Starting the bench's servers side by side: tessera, the null server, s3rver and (when it can) Ceph RGW. */
import { mkdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { BenchArgs } from './bench-args.js';
import { TARGET_ORDER, type Absent } from './result-table.js';
import { findCephScripts, RgwPeer, rgwUnavailable } from './rgw-peer.js';
import { freePort, startNullServer, startS3rver, startTessera, stopTarget, type ClientSettings, type Target } from './targets.js';

/** The installed s3rver's version, for the servers' list. */
async function s3rverVersion(): Promise<string> {
  const text = await readFile(createRequire(import.meta.url).resolve('s3rver/package.json'), 'utf8');
  return (JSON.parse(text) as { version: string }).version;
}

/** How Ceph RGW takes part in a run: brought up from `scriptsDir`, or absent for a reason shown in its column. */
export type RgwPlan = { scriptsDir: string } | { absent: string; detail: string };

/** Whether RGW can run here: not with --no-rgw, nor without its programs on PATH and the peers' scripts. */
export function planRgw(args: BenchArgs, env: NodeJS.ProcessEnv): RgwPlan {
  if (!args.rgw) return { absent: 'left out', detail: 'left out (--no-rgw)' };
  if (args.sseOnly) return { absent: 'left out', detail: 'left out (--sse-only: tessera alone)' };
  const scriptsDir = findCephScripts(args.cephScripts, env['TESSERA_PEERS_DIR']);
  const why = rgwUnavailable(scriptsDir, env['PATH'] ?? '');
  return why === undefined && scriptsDir !== undefined ? { scriptsDir } : { absent: 'not installed', detail: why ?? 'not installed' };
}

/**
 * Starts the targets side by side; if one of tessera, the null server and s3rver fails, stops the others before
 * rethrowing. RGW failing to start is reported in `absent` and the run goes on without it. `abort` cuts RGW's start
 * short (it then stops whatever daemons it had started).
 */
export async function startTargets(root: string, settings: ClientSettings, rgw: RgwPlan, abort: AbortSignal, absent: Absent): Promise<Target[]> {
  const [tesseraDir, s3rverDir] = [join(root, 'tessera'), join(root, 's3rver')];
  await Promise.all([mkdir(tesseraDir), mkdir(s3rverDir)]);
  const rgwStart =
    'scriptsDir' in rgw
      ? RgwPeer.start(rgw.scriptsDir, join(root, 'rgw'), abort).then(
          (peer) => peer.target(settings),
          (err: unknown) => {
            absent.rgw = 'not started';
            console.log(`
Ceph RGW did not start; the run goes on without it: ${err instanceof Error ? err.message : String(err)}`);
            return undefined;
          },
        )
      : Promise.resolve(undefined);
  const started = await Promise.allSettled([
    freePort().then((port) => startTessera(tesseraDir, port, settings)),
    startNullServer(settings),
    s3rverVersion().then((version) => startS3rver(s3rverDir, version, settings)),
    rgwStart,
  ]);
  const targets = started.flatMap((outcome) => (outcome.status === 'fulfilled' && outcome.value !== undefined ? [outcome.value] : []));
  const failed = started.find((outcome) => outcome.status === 'rejected');
  if (failed !== undefined) {
    await Promise.all(targets.map(stopTarget));
    throw failed.reason;
  }
  return TARGET_ORDER.flatMap((name) => targets.filter((target) => target.name === name));
}

/** The servers of the run, their processes, and RGW's reason when it is absent. */
export function describeTargets(targets: readonly Target[], rgw: RgwPlan, absent: Absent): void {
  console.log('\nservers, each started by this bench (and stopped by PID at its end):');
  for (const target of targets) console.log(`  ${target.name.padEnd(8)} ${target.description}`);
  if ('absent' in rgw) console.log(`  ${'rgw'.padEnd(8)} ${rgw.detail}`);
  else if (absent.rgw !== undefined) console.log(`  ${'rgw'.padEnd(8)} ${absent.rgw} (see above)`);
}
