import { PassThrough } from 'node:stream';
import { t } from 'tap';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { createRootLogger } from '../../src/common/index.js';
import { Gateway } from '../../src/gateway/index.js';
import { startCluster, TEST_CREDENTIALS } from '../helpers/cluster.js';

/** A logger writing into a string. */
function capture(format: 'auto' | 'pretty' | 'json', isTerminal: boolean): { logger: ReturnType<typeof createRootLogger>; lines: () => string[] } {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
  const logger = createRootLogger({ level: 'info', format, destination: stream, isTerminal });
  return { logger, lines: () => text.split('\n').filter((line) => line !== '') };
}

t.test('pretty logs are one readable line without pid; JSON stays the default off a terminal', async (t) => {
  const pretty = capture('auto', true);
  pretty.logger.child({ component: 'gateway' }).info({ ringEpoch: 3 }, 'gateway listening');
  const [line] = pretty.lines();
  t.match(line, /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: \[gateway\] gateway listening/);
  t.match(line, /"ringEpoch":3/);
  t.notMatch(line, /"component"/, 'the component is shown once, before the message');
  t.notMatch(line, /"pid"|pid:/, 'no pid');
  t.throws(() => JSON.parse(line ?? ''), 'not JSON');

  const json = capture('auto', false);
  json.logger.info({ secretAccessKey: 'do-not-print', clusterSecret: 'nor-this' }, 'started');
  const parsed = JSON.parse(json.lines()[0] ?? '') as Record<string, unknown>;
  t.equal(parsed['msg'], 'started');
  t.equal(parsed['secretAccessKey'], '[redacted]');
  t.equal(parsed['clusterSecret'], '[redacted]');

  const forced = capture('pretty', false);
  forced.logger.info({ metricsToken: 'secret-token' }, 'forced');
  t.match(forced.lines()[0], /forced/, '--log-format pretty works off a terminal');
  t.notMatch(forced.lines()[0], /secret-token/, 'the metrics token is redacted');
});

t.test('the access log has one line per S3 request: request id, user, operation, bucket, key, status, bytes, duration; no signature', async (t) => {
  const cluster = await startCluster();
  t.teardown(() => cluster.close());
  const captured = capture('json', false);
  const gateway = new Gateway({ config: { ...cluster.config, accessLog: true }, logger: captured.logger });
  await gateway.start();
  t.teardown(() => gateway.close());
  const { localS3Client } = await import('../helpers/cluster.js');
  const s3 = localS3Client(`http://127.0.0.1:${gateway.address.port}`, TEST_CREDENTIALS);
  t.teardown(() => s3.destroy());
  await s3.send(new CreateBucketCommand({ Bucket: 'logged' }));
  const put = await s3.send(new PutObjectCommand({ Bucket: 'logged', Key: 'dir/file.txt', Body: 'twelve bytes' }));
  const requestId = put.$metadata.requestId;
  const accessLines = (): Record<string, unknown>[] => captured.lines().map((line) => JSON.parse(line) as Record<string, unknown>).filter((entry) => entry['msg'] === 'access');
  // The line is written when the response has finished on the server, which may be just after the client has it.
  // (A loaded machine may make the SDK retry a request: every attempt has its own line and request id.)
  while (!accessLines().some((entry) => entry['reqId'] === requestId)) await new Promise((resolve) => setImmediate(resolve));
  const access = accessLines();
  t.ok(access.length >= 2, 'a line per request');
  for (const entry of access) {
    t.ok(typeof entry['reqId'] === 'string' && typeof entry['operation'] === 'string' && typeof entry['status'] === 'number', 'each line has request id, operation and status');
  }
  t.equal(new Set(access.map((entry) => entry['reqId'])).size, access.length, 'one line per request id');
  const line = access.find((entry) => entry['reqId'] === requestId);
  t.equal(line?.['operation'], 'PutObject', 'the PUT the client got an answer to is logged with its request id');
  t.equal(line?.['user'], TEST_CREDENTIALS.accessKeyId);
  t.equal(line?.['bucket'], 'logged');
  t.equal(line?.['key'], 'dir/file.txt');
  t.equal(line?.['status'], 200);
  t.equal(line?.['receivedBytes'], 12);
  t.type(line?.['durationMs'], 'number');
  const all = captured.lines().join('\n');
  t.notMatch(all, /Signature=|AWS4-HMAC-SHA256 Credential/, 'no signature in any line');
  t.notMatch(all, new RegExp(TEST_CREDENTIALS.secretAccessKey), 'no secret in any line');
});
