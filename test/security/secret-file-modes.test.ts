import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { t } from 'tap';
import { runAdminCli } from '../../src/bin/admin-cli.js';
import { runClusterCli, runRingPush } from '../../src/bin/cluster-cli.js';
import { runConfigCli } from '../../src/bin/config-cli.js';
import { silentLogger } from '../../src/common/index.js';
import { Gateway, masterKeyLine } from '../../src/gateway/index.js';
import { startCluster } from '../helpers/cluster.js';
import { makeTestCertificate } from '../helpers/tls-cert.js';
import { TesseraProcess } from '../helpers/server.js';
import { REPO_ROOT, tesseraArgs } from '../helpers/tree.js';
import { until } from '../helpers/until.js';

/**
 * Secret files that group or others can read are refused wherever Tessera reads one (the cluster
 * secret, S3 secret keys and credentials lists, the metrics token, the SSE-S3 master keys, the TLS
 * private key), with a message that names the file and the chmod that fixes it; owner-only files
 * (0600, 0400) are read as before; and the secrets Tessera writes itself are owner-only.
 */

const dir = await mkdtemp(join(tmpdir(), 'tessera-secret-modes-'));
t.teardown(() => rm(dir, { recursive: true, force: true }));
const run = promisify(execFile);
const SECRET = 'secret-modes-cluster-secret-0123456789';
const REFUSED = [0o644, 0o640] as const;
const ACCEPTED = [0o600, 0o400] as const;
const octal = (mode: number): string => `0${mode.toString(8)}`;
let serial = 0;

/** A file holding `text` with exactly `mode` (whatever the umask). */
async function fileWith(name: string, text: string, mode: number): Promise<string> {
  const path = join(dir, `${serial++}-${name}`);
  await writeFile(path, text, { mode: 0o600 });
  await chmod(path, mode);
  return path;
}

/** The refusal a secret file at `path` with `mode` must get: the file, its mode, and the fix. */
function refusal(path: string, mode: number): RegExp {
  const escaped = path.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  return new RegExp(`${escaped} is readable by group or others \\(mode ${octal(mode)}\\); run: chmod 600 ${escaped}`);
}

async function cli(work: (io: { stdout: (s: string) => void; stderr: (s: string) => void }) => Promise<number>): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await work({ stdout: (s) => void (out += s), stderr: (s) => void (err += s) });
  return { code, out, err };
}

const cert = await makeTestCertificate();
t.teardown(() => cert.remove());
const tlsKey = await readFile(cert.keyFile, 'utf8');
const GATEWAY = { nodes: [{ id: 'n0', address: '127.0.0.1:9100' }], erasure: { dataShards: 1, parityShards: 0 } };

/** One kind of secret file, as an operator names it: a configuration (and environment) for `tessera config check`. */
interface SecretKind {
  what: string;
  text: string;
  config(path: string): { document: Record<string, unknown>; env?: Record<string, string> };
}

const KINDS: SecretKind[] = [
  { what: 'the cluster secret file of a node (clusterSecretFile)', text: `${SECRET}\n`, config: (path) => ({ document: { nodeId: 'n0', dataDir: join(dir, 'n0'), listen: '127.0.0.1:9100', clusterSecretFile: path } }) },
  {
    what: 'the cluster secret file of a gateway (TESSERA_CLUSTER_SECRET_FILE)',
    text: `${SECRET}\n`,
    config: (path) => ({ document: { ...GATEWAY, credentials: [{ accessKeyId: 'a', secretAccessKey: 'b' }] }, env: { TESSERA_CLUSTER_SECRET_FILE: path } }),
  },
  {
    what: 'an S3 secret key file (TESSERA_SECRET_KEY_FILE)',
    text: 'an-s3-secret-key\n',
    config: (path) => ({ document: { ...GATEWAY, clusterSecret: SECRET }, env: { TESSERA_ACCESS_KEY: 'admin', TESSERA_SECRET_KEY_FILE: path } }),
  },
  {
    what: 'an S3 secret key file of a credentials entry (credentials[].secretAccessKeyFile)',
    text: 'an-s3-secret-key\n',
    config: (path) => ({ document: { ...GATEWAY, clusterSecret: SECRET, credentials: [{ accessKeyId: 'a', secretAccessKeyFile: path }] } }),
  },
  {
    what: 'a credentials file (credentialsFile)',
    text: JSON.stringify([{ accessKeyId: 'a', secretAccessKey: 'b' }]),
    config: (path) => ({ document: { ...GATEWAY, clusterSecret: SECRET, credentialsFile: path } }),
  },
  {
    what: 'the metrics token file (metricsTokenFile)',
    text: 'a-metrics-token\n',
    config: (path) => ({ document: { ...GATEWAY, clusterSecret: SECRET, credentials: [{ accessKeyId: 'a', secretAccessKey: 'b' }], metricsTokenFile: path } }),
  },
  {
    what: 'the SSE-S3 master key file (sseMasterKeyFile)',
    text: masterKeyLine(randomBytes(32)),
    config: (path) => ({ document: { ...GATEWAY, clusterSecret: SECRET, credentials: [{ accessKeyId: 'a', secretAccessKey: 'b' }], sseMasterKeyFile: path } }),
  },
  {
    what: 'the TLS private key (tls.keyFile)',
    text: tlsKey,
    config: (path) => ({ document: { ...GATEWAY, clusterSecret: SECRET, credentials: [{ accessKeyId: 'a', secretAccessKey: 'b' }], tls: { certFile: cert.certFile, keyFile: path } } }),
  },
];

for (const kind of KINDS) {
  t.test(`config check refuses ${kind.what} that group or others can read, and reads it when only its owner can`, async (t) => {
    for (const mode of [...REFUSED, ...ACCEPTED]) {
      const path = await fileWith('secret', kind.text, mode);
      const { document, env } = kind.config(path);
      const configPath = await fileWith('config.json', JSON.stringify(document), 0o600);
      const r = await cli((io) => runConfigCli(['check', configPath], env ?? {}, io));
      if ((REFUSED as readonly number[]).includes(mode)) {
        t.equal(r.code, 1, `mode ${octal(mode)} fails the check`);
        t.match(r.err, refusal(path, mode), `mode ${octal(mode)}: the message names the file, its mode and the fix`);
      } else {
        t.equal(r.code, 0, `mode ${octal(mode)} passes: ${r.err}`);
      }
    }
  });
}

t.test('tessera node refuses a --secret-file that others can read, exiting 1 before it listens', async (t) => {
  const path = await fileWith('cluster-secret', `${SECRET}\n`, 0o644);
  const node = new TesseraProcess('tessera node', ['node', '--data', join(dir, 'node-data'), '--listen', '127.0.0.1:0', '--secret-file', path], {});
  t.teardown(() => node.stop());
  await until('tessera node to exit or listen', async () => node.hasExited || /storage node listening/.test(node.stderr), 180_000, 50);
  t.notMatch(node.stderr, /storage node listening/, 'it never listened');
  const { code } = await node.stop();
  t.equal(code, 1, 'it exited by itself, status 1');
  t.match(node.stderr, refusal(path, 0o644));
});

t.test('tessera cluster init writes its secret and S3 key owner-only, even over a world-readable file with --force', async (t) => {
  const out = join(dir, 'init');
  await mkdir(out, { recursive: true });
  for (const name of ['cluster-secret', 's3-credentials.json']) {
    await writeFile(join(out, name), 'old\n');
    await chmod(join(out, name), 0o644);
  }
  const nodes = Array.from({ length: 6 }, (_, i) => ['--node', `n${i}=10.0.0.${10 + i}:9100,zone=${'abc'[i % 3]}`]).flat();
  await run(process.execPath, tesseraArgs('cluster', 'init', '--out', out, '--force', ...nodes), { cwd: REPO_ROOT });
  for (const name of ['cluster-secret', 's3-credentials.json']) t.equal((await stat(join(out, name))).mode & 0o777, 0o600, `${name} is 0600`);
  const fresh = join(dir, 'init-fresh');
  t.equal((await cli((io) => runClusterCli(['init', '--out', fresh, ...nodes], io))).code, 0);
  t.equal((await stat(join(fresh, 'cluster-secret'))).mode & 0o777, 0o600, 'a new cluster-secret is 0600');
  t.equal((await stat(fresh)).mode & 0o777, 0o700, 'in a directory only its owner can enter');
});

t.test('operator commands refuse a cluster secret file others can read: cluster init, ring push, admin of the embedded cluster', async (t) => {
  const nodes = Array.from({ length: 6 }, (_, i) => ['--node', `n${i}=127.0.0.1:${1 + i},zone=${'abc'[i % 3]}`]).flat();
  for (const mode of REFUSED) {
    const secret = await fileWith('cluster-secret', `${SECRET}\n`, mode);
    const init = await cli((io) => runClusterCli(['init', '--out', join(dir, `init-${octal(mode)}`), '--secret-file', secret, ...nodes], io));
    t.equal(init.code, 1, `cluster init --secret-file: mode ${octal(mode)} refused`);
    t.match(init.err, refusal(secret, mode));
    const good = await fileWith('cluster-secret', `${SECRET}\n`, 0o600);
    const ringDir = join(dir, `ring-${octal(mode)}`);
    t.equal((await cli((io) => runClusterCli(['init', '--out', ringDir, '--secret-file', good, ...nodes], io))).code, 0, 'an owner-only --secret-file is read');
    const push = await cli((io) => runRingPush([join(ringDir, 'ring.json'), '--secret-file', secret, '--timeout-ms', '100'], {}, io));
    t.equal(push.code, 1, `ring push --secret-file: mode ${octal(mode)} refused`);
    t.match(push.err, refusal(secret, mode));
    t.notMatch(push.out, /n0/, 'before any node was asked');
    const dataDir = join(dir, `dev-data-${octal(mode)}`);
    await mkdir(dataDir);
    await writeFile(join(dataDir, 'cluster.json'), JSON.stringify({ nodes: [{ id: 'n0', address: '127.0.0.1:1' }] }));
    await writeFile(join(dataDir, 'cluster-secret'), `${SECRET}\n`, { mode });
    await chmod(join(dataDir, 'cluster-secret'), mode);
    const admin = await cli((io) => runAdminCli(['status', '--data', dataDir], {}, io));
    t.equal(admin.code, 1, `admin status: the embedded cluster's secret at mode ${octal(mode)} refused`);
    t.match(admin.err, refusal(join(dataDir, 'cluster-secret'), mode));
    await chmod(join(dataDir, 'cluster-secret'), 0o600);
    const keys = join(dataDir, 'sse-master-keys');
    await writeFile(keys, masterKeyLine(randomBytes(32)), { mode });
    await chmod(keys, mode);
    const rotate = await cli((io) => runAdminCli(['kms', 'rotate', '--data', dataDir], {}, io));
    t.equal(rotate.code, 1, `admin kms rotate: a master key file at mode ${octal(mode)} refused`);
    t.match(rotate.err, refusal(keys, mode));
  }
});

t.test('a gateway refuses to start with a master key file or TLS key others can read, and keeps its keys when a reload finds one', async (t) => {
  const keys = await fileWith('sse-master-keys', masterKeyLine(randomBytes(32)), 0o600);
  const cluster = await startCluster({ nodeHealing: false, nodeCount: 2, dataShards: 1, parityShards: 1, gatewayOverrides: { sseMasterKeyFile: keys } });
  t.teardown(() => cluster.close());
  for (const mode of REFUSED) {
    const exposedKeys = await fileWith('sse-master-keys', masterKeyLine(randomBytes(32)), mode);
    const withKeys = new Gateway({ config: { ...cluster.config, sseMasterKeyFile: exposedKeys }, logger: silentLogger() });
    await t.rejects(withKeys.start().finally(() => withKeys.close()), refusal(exposedKeys, mode), `master key file at mode ${octal(mode)}`);
    const exposedTls = await fileWith('key.pem', tlsKey, mode);
    const withTls = new Gateway({ config: { ...cluster.config, tls: { certFile: cert.certFile, keyFile: exposedTls } }, logger: silentLogger() });
    await t.rejects(withTls.start().finally(() => withTls.close()), refusal(exposedTls, mode), `TLS key at mode ${octal(mode)}`);
    await chmod(keys, mode);
    t.equal(await cluster.gateway.reloadMasterKeys(), false, `a reload refuses the master key file at mode ${octal(mode)}`);
    await chmod(keys, 0o600);
    t.equal(await cluster.gateway.reloadMasterKeys(), true, 'and reads it again once it is 0600');
  }
});

t.test('a root-owned secret file may be group-readable for a service that is not root (Kubernetes fsGroup, systemd credentials, ssl-cert), never more', async (t) => {
  const { secretFileProblem } = await import('../../src/common/index.js');
  const problem = (mode: number, uid: number, euid: number): string | undefined => secretFileProblem('TLS key file', '/k', { mode: 0o100000 | mode, uid }, euid);
  for (const mode of [0o400, 0o440, 0o600, 0o640]) t.equal(problem(mode, 0, 1000), undefined, `root's ${octal(mode)}, service uid 1000: read`);
  for (const mode of [0o444, 0o644, 0o660, 0o604, 0o650]) t.match(problem(mode, 0, 1000), `run: chmod 640 /k`, `root's ${octal(mode)}, service uid 1000: refused`);
  for (const mode of [0o640, 0o440]) t.match(problem(mode, 1000, 1000), `(mode ${octal(mode)}); run: chmod 600 /k`, `its own ${octal(mode)}: refused`);
  t.match(problem(0o640, 0, 0), 'run: chmod 600 /k', 'root\'s 0640 when the service is root: refused, its group is not how it reads the file');
  t.match(problem(0o620, 1000, 1000), 'is writable by group or others (mode 0620)', 'a file others could change is refused too');
});
