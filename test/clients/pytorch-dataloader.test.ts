import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { t } from 'tap';
import { bucketName } from '../helpers/bytes.js';
import { isolatedAwsEnv, probeClient, requireClient, runCommand } from '../helpers/clients.js';
import { startHttpAndHttpsDevServers } from '../helpers/server.js';
import { repoFile } from '../helpers/tree.js';

/**
 * A PyTorch DataLoader (Debian's python3-torch, with Debian's boto3 in the same /usr/bin/python3) with
 * num_workers=2 over a Dataset that lists a prefix and reads each object with get_object, then with
 * ranged get_object calls, checking every byte; see torch_dataloader.py. Over HTTP and over HTTPS: the
 * workers are forked processes that each open their own connections, and a run costs one torch import.
 */

const PYTHON = '/usr/bin/python3';
const SCRIPT = repoFile('test/clients/torch_dataloader.py');
const SCRIPT_TIMEOUT_MS = 150_000;

const work = await mkdtemp(join(tmpdir(), 'tessera-torch-'));
t.teardown(() => rm(work, { recursive: true, force: true }));
const targets = await startHttpAndHttpsDevServers(t);

for (const target of [targets.http, targets.https]) {
  t.test(`PyTorch DataLoader num_workers=2 over ${target.scheme}: lists a prefix, reads every object whole and in ranges, every byte checked`, async (t) => {
    const env = await isolatedAwsEnv(target.server, work);
    const probe = await probeClient(PYTHON, ['-c', 'import torch, boto3; print("torch", torch.__version__, "boto3", boto3.__version__)'], env);
    if (!requireClient(t, 'python3-torch with python3-boto3 (/usr/bin/python3)', probe)) return;
    const result = await runCommand(
      PYTHON,
      [SCRIPT, '--endpoint', target.server.endpoint, '--bucket', bucketName('torch'), ...(target.caFile === undefined ? [] : ['--ca-bundle', target.caFile])],
      { env, timeoutMs: SCRIPT_TIMEOUT_MS },
    );
    t.comment(result.stdout.trim());
    t.equal(result.code, 0, 'every sample from both workers has the bytes that were uploaded', {
      failure: result.stderr.split('\n').filter((line) => line.startsWith('FAIL:')).join('\n'),
      stderr: result.stderr.slice(-4000),
      signal: result.signal,
    });
    t.match(result.stdout, /with get_object: 24 objects, every byte checked/, 'whole-object reads');
    t.match(result.stdout, /with ranged get_object .*: 24 objects, every byte checked/, 'ranged reads');
    t.match(result.stdout, /^OK$/m, 'the script reached its end');
  });
}
