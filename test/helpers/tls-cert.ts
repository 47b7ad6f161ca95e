import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

/**
 * A throwaway certificate authority and a server certificate it signed, made with the openssl
 * command at test time (node:crypto cannot make X.509). Clients trust `caFile` (aws-cli
 * `--ca-bundle`, boto3 `verify=`, AWS_CA_BUNDLE, the SDK's https.Agent `ca`); the gateway serves
 * `certFile` and `keyFile` (config `tls.certFile` / `tls.keyFile`).
 */
export interface TestCertificate {
  dir: string;
  caFile: string;
  certFile: string;
  keyFile: string;
  /** PEM of the CA, for an https.Agent's `ca`. */
  ca: string;
  /** Removes the files. */
  remove(): Promise<void>;
}

const run = promisify(execFile);

/** Makes a CA and a server certificate for `names` (DNS names and IP addresses; default localhost and 127.0.0.1), valid for two days. */
export async function makeTestCertificate(names: readonly string[] = ['localhost', '127.0.0.1']): Promise<TestCertificate> {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-tls-'));
  const caFile = join(dir, 'ca.pem');
  const caKey = join(dir, 'ca.key');
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  const san = names.map((name) => (/^[\d.]+$|:/.test(name) ? `IP:${name}` : `DNS:${name}`)).join(',');
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2'];
  try {
    await run('openssl', ['req', '-x509', ...ec, '-keyout', caKey, '-out', caFile, '-subj', '/CN=Tessera test CA',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
    await run('openssl', ['req', '-x509', '-CA', caFile, '-CAkey', caKey, ...ec, '-keyout', keyFile, '-out', certFile,
      '-subj', `/CN=${names[0] ?? 'localhost'}`, '-addext', `subjectAltName=${san}`,
      '-addext', 'basicConstraints=critical,CA:FALSE', '-addext', 'extendedKeyUsage=serverAuth']);
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw new Error(`openssl could not make a test certificate (OpenSSL 3 is needed for req -CA): ${(err as Error).message}`, { cause: err });
  }
  return {
    dir,
    caFile,
    certFile,
    keyFile,
    ca: await readFile(caFile, 'utf8'),
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}
