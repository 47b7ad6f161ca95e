import { chmod, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListBucketsCommand } from '@aws-sdk/client-s3';
import { t } from 'tap';
import { runDev } from '../../src/bin/roles.js';
import { DEFAULTS, silentLogger } from '../../src/common/index.js';
import { localS3Client } from '../helpers/cluster.js';
import { TEST_DEV_ENV as DEV_ENV } from '../helpers/tree.js';
import { freePorts } from '../helpers/ports.js';
import { TesseraProcess, startDevServer, tcpAccepts } from '../helpers/server.js';
import { until } from '../helpers/until.js';

/**
 * `tessera dev` serves with development credentials it prints and that every copy of Tessera shares:
 * fine on loopback, an open door on any other address. There it starts only with credentials of the
 * operator's own; without them it exits non-zero, says why and how to give them, and never listens.
 */

process.env['AWS_SDK_JS_SUPPRESS_NODE_DEPRECATION_WARNING'] = '1';
const dir = await mkdtemp(join(tmpdir(), 'tessera-dev-listen-'));
t.teardown(() => rm(dir, { recursive: true, force: true }));
const DEV_CREDENTIALS = { accessKeyId: DEFAULTS.devAccessKeyId, secretAccessKey: DEFAULTS.devSecretAccessKey };
/** Credentials the operator may have exported in the shell the tests run from; each child here is started without them. */
const CREDENTIAL_VARIABLES = ['TESSERA_ACCESS_KEY', 'TESSERA_SECRET_KEY', 'TESSERA_SECRET_KEY_FILE', 'TESSERA_CREDENTIALS_FILE'];
for (const name of CREDENTIAL_VARIABLES) delete process.env[name];

/** Whether something accepts TCP connections on 127.0.0.1:`port`. */
async function accepts(port: number): Promise<boolean> {
  return (await tcpAccepts('127.0.0.1', port)) === true;
}

t.test('loopback is 127.0.0.0/8, ::1 and localhost; the wildcard addresses are not', async (t) => {
  const { isLoopbackHost } = await import('../../src/bin/dev-credentials.js');
  for (const host of ['127.0.0.1', '127.1.2.3', 'localhost', 'LOCALHOST', '::1', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1']) t.ok(isLoopbackHost(host), `${host} is loopback`);
  for (const host of ['0.0.0.0', '::', '10.0.0.5', '192.168.1.1', 'example.com', '128.0.0.1', '::2', '']) t.notOk(isLoopbackHost(host), `${host} is not`);
});

t.test('tessera dev --listen 0.0.0.0 without credentials exits non-zero, says how to give them, and never opens its port', async (t) => {
  const [port] = (await freePorts(1, '0.0.0.0')) as [number];
  const dataDir = join(dir, 'refused');
  const child = new TesseraProcess('tessera dev 0.0.0.0', ['dev', '--data', dataDir, '--listen', `0.0.0.0:${port}`], {});
  t.teardown(() => child.stop());
  await until('tessera dev to exit or print its endpoint', async () => child.hasExited || /endpoint:/.test(child.stdout), 180_000, 50);
  const listened = await accepts(port);
  const { code } = await child.stop();
  t.notOk(listened, 'nothing listened on the port');
  t.not(code, 0, 'it exited by itself, status not 0');
  t.match(child.stderr, `0.0.0.0:${port}`, 'the message names the address');
  t.match(child.stderr, /development credentials/, 'and says why');
  t.match(child.stderr, /TESSERA_ACCESS_KEY.*TESSERA_SECRET_KEY/s, 'and how to give credentials');
  t.notMatch(child.stdout, /access key/, 'no credentials were printed');
  await t.rejects(stat(dataDir), { code: 'ENOENT' }, 'nor was a data directory made');
  for (const listen of ['0.0.0.0:0', '[::]:0', '10.0.0.5:0']) {
    // Closed at once should it start after all, so that a failure here cannot leave a cluster running.
    const outcome = await runDev({ data: join(dir, 'refused-here'), listen, nodes: '2', nodeThreads: '0' }, DEV_ENV, silentLogger()).then(
      async (dev) => {
        await dev.close();
        return 'started';
      },
      (err: Error) => err.message,
    );
    t.match(outcome, /development credentials/, `runDev refuses ${listen} too`);
  }
});

t.test('tessera dev --listen 0.0.0.0 starts with credentials of its own, and accepts only those', async (t) => {
  const secretFile = join(dir, 's3-secret-key');
  await writeFile(secretFile, 'operator-secret-key-0123456789\n', { mode: 0o600 });
  await chmod(secretFile, 0o600);
  const dataDir = join(dir, 'own-credentials');
  const child = new TesseraProcess('tessera dev 0.0.0.0 with credentials', ['dev', '--data', dataDir, '--listen', '0.0.0.0:0'], {
    ...DEV_ENV,
    TESSERA_ACCESS_KEY: 'operator',
    TESSERA_SECRET_KEY_FILE: secretFile,
  });
  t.teardown(() => child.stop());
  await until('tessera dev to print its endpoint', async () => {
    if (child.hasExited) throw new Error(child.describe());
    return /endpoint: +http:\/\/0\.0\.0\.0:\d+/.test(child.stdout);
  }, 180_000, 50).catch((err: Error) => {
    throw new Error(`${err.message}\n${child.describe()}`);
  });
  const port = Number(/endpoint: +http:\/\/0\.0\.0\.0:(\d+)/.exec(child.stdout)?.[1]);
  t.notMatch(child.stdout, /operator-secret-key/, 'a secret key from a file is not printed');
  const endpoint = `http://127.0.0.1:${port}`;
  const own = localS3Client(endpoint, { accessKeyId: 'operator', secretAccessKey: 'operator-secret-key-0123456789' }, { maxAttempts: 1 });
  const dev = localS3Client(endpoint, DEV_CREDENTIALS, { maxAttempts: 1 });
  t.teardown(() => {
    own.destroy();
    dev.destroy();
  });
  await t.resolves(own.send(new ListBucketsCommand({})), 'the operator\'s credentials are accepted');
  await t.rejects(dev.send(new ListBucketsCommand({})), { name: 'InvalidAccessKeyId' }, 'the development credentials are not');
  t.equal((await stat(dataDir)).mode & 0o777, 0o700, 'the data directory it made is its owner\'s only');
  const stopped = await child.stop();
  t.equal(stopped.killed, false, 'it stopped on SIGTERM to its PID');
  t.notOk(await accepts(port), 'and its port is closed');
});

t.test('tessera dev on loopback still starts without credentials, and keeps the secrets it makes owner-only', async (t) => {
  const server = await startDevServer(t);
  t.equal(server.accessKeyId, DEFAULTS.devAccessKeyId, 'with the development credentials it prints');
  const client = localS3Client(server.endpoint, { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey }, { maxAttempts: 1 });
  t.teardown(() => client.destroy());
  await t.resolves(client.send(new ListBucketsCommand({})), 'which it accepts');
  for (const name of ['cluster-secret', 'sse-master-keys']) t.equal((await stat(join(server.dataDir, name))).mode & 0o777, 0o600, `${name} is 0600`);
});
