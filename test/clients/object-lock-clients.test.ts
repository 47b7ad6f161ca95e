import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { t } from 'tap';
import { bucketName } from '../helpers/bytes.js';
import { commandOutput, isolatedAwsEnv, probeClient, requireClient, runCommand } from '../helpers/clients.js';
import { startCluster, TEST_CREDENTIALS } from '../helpers/cluster.js';
import { repoFile } from '../helpers/tree.js';

/**
 * Object Lock driven by boto3 under every Python with boto3 here (a current one that sends CRC32
 * checksums, and Debian's older one that sends Content-MD5): lock configuration, lock parameters on
 * put, copy and multipart, retention and legal holds, locked deletes and their release. The steps live
 * in boto3_object_lock.py, which exits non-zero naming the first mismatch.
 */

const SCRIPT = repoFile('test/clients/boto3_object_lock.py');
const TIMEOUT_MS = 180_000;

const cluster = await startCluster({ nodeHealing: false, blockSizeBytes: 64 * 1024, gatewayOverrides: { metadataTimeoutMs: 10_000, stallTimeoutMs: 10_000 } });
t.teardown(() => cluster.close());
const work = await mkdtemp(join(tmpdir(), 'tessera-object-lock-clients-'));
t.teardown(() => rm(work, { recursive: true, force: true }));

for (const python of [
  { name: 'boto3 of python3 on PATH', command: 'python3' },
  { name: 'Debian boto3 (/usr/bin/python3)', command: '/usr/bin/python3' },
]) {
  t.test(`${python.name}: lock configuration, lock parameters on put/copy/multipart, retention and legal hold, locked deletes refused, release at the date`, async (t) => {
    const env = await isolatedAwsEnv(TEST_CREDENTIALS, await mkdtemp(join(work, 'py-')));
    const probe = await probeClient(python.command, ['-c', 'import boto3; print("boto3", boto3.__version__)'], env);
    if (!requireClient(t, python.name, probe)) return;
    const result = await runCommand(python.command, [SCRIPT, '--endpoint', cluster.endpoint, '--bucket', bucketName('b3lock')], { env, timeoutMs: TIMEOUT_MS });
    t.equal(result.code, 0, 'the script passes every step', commandOutput(result));
    t.match(result.stdout, /^PASS$/m);
  });
}
