import { t } from 'tap';
import { runUserCli } from '../../src/bin/user-cli.js';
import { bucketName } from '../helpers/bytes.js';
import { commandOutput, probeClient, requireClient, runCommand } from '../helpers/clients.js';
import { startCluster, writeGatewayConfig } from '../helpers/cluster.js';
import { repoFile } from '../helpers/tree.js';

/**
 * Browser POST uploads made the way boto3 users make them: `generate_presigned_post` (SigV4, and
 * SigV2 with signature_version='s3'), the fields posted as multipart/form-data by `requests`, the
 * object read back with boto3; a second user's form for the same bucket is refused.
 */

const SCRIPT = repoFile('test/clients/boto3_post.py');
const TIMEOUT_MS = 120_000;

const cluster = await startCluster({ nodeHealing: false });
t.teardown(() => cluster.close());
const configFile = await writeGatewayConfig(cluster);

async function addUser(name: string): Promise<[string, string]> {
  let out = '';
  const code = await runUserCli('user', ['add', name, '--config', configFile], {}, { stdout: (s) => void (out += s), stderr: () => undefined });
  const access = /^access key: (\S+)$/m.exec(out)?.[1];
  const secret = /^secret key: (\S+)$/m.exec(out)?.[1];
  if (code !== 0 || access === undefined || secret === undefined) throw new Error(`no keys for ${name}: ${out}`);
  return [access, secret];
}

const owner = await addUser('uploader');
const other = await addUser('visitor');

for (const interpreter of ['python3', '/usr/bin/python3']) {
  t.test(`boto3 (${interpreter}) generate_presigned_post: requests uploads the form, boto3 reads it back; limits and other users refused`, async (t) => {
    const probe = await probeClient(interpreter, ['-c', 'import boto3, requests; print("boto3", boto3.__version__)']);
    if (!requireClient(t, `boto3 and requests (${interpreter})`, probe)) return;
    const result = await runCommand(
      interpreter,
      [SCRIPT, '--endpoint', cluster.endpoint, '--bucket', bucketName('boto3-post'), '--owner', ...owner, '--other', ...other],
      { env: { ...process.env, AWS_CONFIG_FILE: '/dev/null', AWS_SHARED_CREDENTIALS_FILE: '/dev/null' }, timeoutMs: TIMEOUT_MS },
    );
    t.comment(result.stdout.trim());
    t.equal(result.code, 0, 'every step matches', commandOutput(result));
    t.match(result.stdout, /^OK$/m);
  });
}
