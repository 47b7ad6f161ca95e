import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';
import { bucketName } from '../helpers/bytes.js';
import { startCluster, TEST_CREDENTIALS } from '../helpers/cluster.js';
import { isolatedAwsEnv, probeClient, requireClient, runCommand } from '../helpers/clients.js';
import { repoFile } from '../helpers/tree.js';

const RUNNER = repoFile('test/conformance/conformance.py');

/**
 * Runs one area of the boto3 conformance suite (conformance_<area>.py) against an in-process cluster
 * and makes each of its cases an assertion named after the behaviour it checks. Every case must
 * report: one that never printed a line (the runner died) fails too.
 */
export async function runConformanceArea(t: Test, area: string, options: { timeoutMs?: number; gatewayOverrides?: Record<string, unknown> } = {}): Promise<void> {
  const cluster = await startCluster({ gatewayOverrides: { metadataTimeoutMs: 10_000, stallTimeoutMs: 10_000, ...options.gatewayOverrides } });
  t.teardown(() => cluster.close());
  const dir = await mkdtemp(join(tmpdir(), `tessera-conformance-${area}-`));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const env = await isolatedAwsEnv(TEST_CREDENTIALS, dir);
  const probe = await probeClient('python3', ['-c', 'import boto3; print("boto3", boto3.__version__)'], env);
  if (!requireClient(t, 'boto3 (python3)', probe)) return;
  const result = await runCommand('python3', [RUNNER, '--area', area, '--endpoint', cluster.endpoint, '--bucket-prefix', bucketName(area.replaceAll('_', '-'))], {
    env,
    timeoutMs: options.timeoutMs ?? 300_000,
  });
  const lines = result.stdout.split('\n');
  const cases = lines.filter((line) => /^(ok|not ok) /.test(line));
  t.ok(cases.length > 0, 'the suite ran cases', { stdout: result.stdout.slice(-3000), stderr: result.stderr.slice(-3000) });
  for (const line of cases) {
    const failed = line.startsWith('not ok ');
    const text = line.slice(failed ? 'not ok '.length : 'ok '.length);
    if (failed) {
      const split = text.indexOf(': ');
      t.fail(split === -1 ? text : text.slice(0, split), { why: split === -1 ? '' : text.slice(split + 2) });
    } else {
      t.pass(text);
    }
  }
  t.ok(lines.includes('done'), 'every case ran to the end', { code: result.code, stderr: result.stderr.slice(-3000) });
}
