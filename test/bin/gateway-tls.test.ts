import { Agent } from 'node:https';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { t } from 'tap';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { parseGatewayConfig, silentLogger } from '../../src/common/index.js';
import { GATEWAY_HEALTH_PATHS, Gateway } from '../../src/gateway/index.js';
import { StorageNode } from '../../src/storage-node/index.js';
import { makeTestCertificate } from '../helpers/tls-cert.js';
import { collect, seededBytes } from '../helpers/bytes.js';

/** The gateway over HTTPS: the AWS SDK trusting a test CA, and a renewed certificate picked up without a restart. */

process.env['AWS_SDK_JS_SUPPRESS_NODE_DEPRECATION_WARNING'] = '1';
const SECRET = 'tls-test-cluster-secret-0123456789';
const dir = await mkdtemp(join(tmpdir(), 'tessera-tls-gw-'));
const cert = await makeTestCertificate();
const nodes: StorageNode[] = [];
for (let i = 0; i < 6; i += 1) {
  const node = new StorageNode({ nodeId: `n${i}`, dataDir: join(dir, `n${i}`), host: '127.0.0.1', port: 0, clusterSecret: SECRET, logger: silentLogger() });
  await node.start();
  nodes.push(node);
}
// The gateway reads the pair from these paths, so replacing the files and reloading renews it.
const certFile = join(dir, 'cert.pem');
const keyFile = join(dir, 'key.pem');
await copyFile(cert.certFile, certFile);
await copyFile(cert.keyFile, keyFile);
const credentials = { accessKeyId: 'tls-key', secretAccessKey: 'tls-secret' };
const config = parseGatewayConfig({
  listen: '127.0.0.1:0',
  credentials: [credentials],
  clusterSecret: SECRET,
  nodes: nodes.map((node, i) => ({ id: `n${i}`, address: `127.0.0.1:${node.address.port}` })),
  tls: { certFile, keyFile },
});
const gateway = new Gateway({ config, logger: silentLogger() });
const { port } = await gateway.start();
const agents: Agent[] = [];
const clients: S3Client[] = [];
t.teardown(async () => {
  for (const client of clients) client.destroy();
  for (const agent of agents) agent.destroy();
  await gateway.close();
  for (const node of nodes) await node.close();
  await cert.remove();
  await rm(dir, { recursive: true, force: true });
});

function client(ca: string | undefined, host = 'localhost'): S3Client {
  const agent = new Agent({ ...(ca === undefined ? {} : { ca }), keepAlive: false });
  agents.push(agent);
  const s3 = new S3Client({
    endpoint: `https://${host}:${port}`,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials,
    maxAttempts: 1,
    requestHandler: { httpsAgent: agent },
  });
  clients.push(s3);
  return s3;
}

t.test('@aws-sdk/client-s3 over https with a CA bundle: default checksums, multi-stripe bodies, listing', async (t) => {
  const s3 = client(cert.ca);
  await s3.send(new CreateBucketCommand({ Bucket: 'tls' }));
  const body = seededBytes(3 * 1024 * 1024 + 17, 9);
  // The SDK's defaults send this as aws-chunked with a trailing CRC32, which it does only over HTTPS for some clients.
  await s3.send(new PutObjectCommand({ Bucket: 'tls', Key: 'big.bin', Body: body }));
  const got = await s3.send(new GetObjectCommand({ Bucket: 'tls', Key: 'big.bin', ChecksumMode: 'ENABLED' }));
  t.ok((await collect(got.Body as AsyncIterable<Uint8Array>)).equals(body), 'byte-identical');
  const viaIp = client(cert.ca, '127.0.0.1');
  const list = await viaIp.send(new ListObjectsV2Command({ Bucket: 'tls' }));
  t.same(list.Contents?.map((c) => c.Key), ['big.bin'], 'the certificate names the IP address too');
  const health = await fetch(`https://localhost:${port}${GATEWAY_HEALTH_PATHS.live}`).catch((err: Error) => err);
  t.ok(health instanceof Error, 'a client without the CA refuses the certificate');
});

t.test('a client that does not trust the CA is refused by TLS, not by S3', async (t) => {
  await t.rejects(client(undefined).send(new ListObjectsV2Command({ Bucket: 'tls' })), { message: /certificate/i });
});

t.test('a renewed certificate is served after reloadTls (what SIGHUP does), without a restart', async (t) => {
  const renewed = await makeTestCertificate();
  t.teardown(() => renewed.remove());
  await copyFile(renewed.certFile, certFile);
  await copyFile(renewed.keyFile, keyFile);
  t.equal(await gateway.reloadTls(), true);
  const list = await client(renewed.ca).send(new ListObjectsV2Command({ Bucket: 'tls' }));
  t.equal(list.KeyCount, 1, 'the new CA is trusted');
  await t.rejects(client(cert.ca).send(new ListObjectsV2Command({ Bucket: 'tls' })), { message: /certificate|signature/i }, 'the old CA no longer matches');
  await copyFile(certFile, keyFile);
  t.equal(await gateway.reloadTls(), false, 'a broken pair is refused and the current one kept');
  t.equal((await client(renewed.ca).send(new ListObjectsV2Command({ Bucket: 'tls' }))).KeyCount, 1);
});
