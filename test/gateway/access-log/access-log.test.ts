import { createServer, request as httpRequest, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { t } from 'tap';
import { silentLogger } from '../../../src/common/index.js';
import {
  AccessLogDelivery,
  formatLogLine,
  holdResponseEnd,
  LOG_FIELD_COUNT,
  LogDeliveryError,
  logDestination,
  logObjectKey,
  logTime,
  redactedTarget,
  splitLogLine,
  type AccessLogFields,
} from '../../../src/gateway/access-log/index.js';
import { parseLoggingXml, renderLogging, S3Error } from '../../../src/gateway/s3/index.js';
import { until } from '../../helpers/until.js';

const FIELDS: AccessLogFields = {
  bucketOwnerId: 'owner1',
  bucket: 'b',
  timeMs: Date.UTC(2019, 1, 6, 0, 0, 38),
  remoteIp: '192.0.2.3',
  requesterId: undefined,
  requestId: '3E57427F3EXAMPLE',
  operation: 'REST.GET.OBJECT',
  key: 'dir/a b"c',
  requestLine: 'GET /b/dir/a%20b%22c HTTP/1.1',
  status: 200,
  errorCode: undefined,
  bytesSent: 0,
  objectSizeBytes: undefined,
  totalTimeMs: 7.4,
  turnAroundTimeMs: undefined,
  referrer: undefined,
  userAgent: 'agent "quoted"\nsecond line',
  versionId: undefined,
  hostId: 'host',
  signatureVersion: 'SigV4',
  cipherSuite: undefined,
  authType: 'AuthHeader',
  hostHeader: 'b.example',
  tlsVersion: undefined,
  aclRequired: false,
};

t.test("a record is one line of S3's 26 fields: '-' for absent, time in brackets, URI and agent quoted, nothing a client sends splits it", async (t) => {
  t.equal(logTime(FIELDS.timeMs), '[06/Feb/2019:00:00:38 +0000]');
  const line = formatLogLine(FIELDS);
  t.notMatch(line, /\n/, 'one line');
  const fields = splitLogLine(line);
  t.equal(fields.length, LOG_FIELD_COUNT);
  t.same(fields.slice(0, 13), ['owner1', 'b', '06/Feb/2019:00:00:38 +0000', '192.0.2.3', '-', '3E57427F3EXAMPLE', 'REST.GET.OBJECT', 'dir/a%20b%22c', 'GET /b/dir/a%20b%22c HTTP/1.1', '200', '-', '-', '-']);
  t.equal(fields[13], '7');
  t.equal(fields[15], '-', 'no referrer');
  t.equal(fields[16], 'agent %22quoted%22%0Asecond line', "the agent's quotes and line end are escaped");
  t.same(fields.slice(19), ['SigV4', '-', 'AuthHeader', 'b.example', '-', '-', '-']);
  t.equal(
    redactedTarget('/b/k?X-Amz-Credential=AK%2F1&X-Amz-Signature=abc&x-amz-security-token=t&Signature=s&versionId=1'),
    '/b/k?X-Amz-Credential=AK%2F1&X-Amz-Signature=REDACTED&x-amz-security-token=REDACTED&Signature=REDACTED&versionId=1',
    "a presigned URL's signature and token are never logged",
  );
});

t.test("log object keys follow S3's simple and partitioned formats", async (t) => {
  const eventMs = Date.UTC(2024, 0, 31, 23, 59, 59);
  const deliveryMs = Date.UTC(2024, 1, 1, 0, 0, 1);
  const simple = logDestination({ targetBucket: 't', targetPrefix: 'logs/' }, { ownerId: 'o', region: 'us-east-1', bucket: 'src' });
  t.equal(logObjectKey(simple, eventMs, deliveryMs, '0123456789ABCDEF'), 'logs/2024-02-01-00-00-01-0123456789ABCDEF');
  const byEvent = logDestination({ targetBucket: 't', targetPrefix: 'p/', partitioned: { dateSource: 'EventTime' } }, { ownerId: 'o', region: 'us-east-1', bucket: 'src' });
  t.equal(logObjectKey(byEvent, eventMs, deliveryMs, 'U'), 'p/o/us-east-1/src/2024/01/31/2024-02-01-00-00-01-U');
  const byDelivery = logDestination({ targetBucket: 't', targetPrefix: '', partitioned: { dateSource: 'DeliveryTime' } }, { ownerId: 'o', region: 'r', bucket: 'src' });
  t.equal(logObjectKey(byDelivery, eventMs, deliveryMs, 'U'), 'o/r/src/2024/02/01/2024-02-01-00-00-01-U');
});

t.test('BucketLoggingStatus parses and renders back as S3 has it; malformed documents are refused', async (t) => {
  const text =
    '<BucketLoggingStatus><LoggingEnabled><TargetBucket>t</TargetBucket><TargetPrefix>p/</TargetPrefix>' +
    '<TargetObjectKeyFormat><PartitionedPrefix><PartitionDateSource>DeliveryTime</PartitionDateSource></PartitionedPrefix></TargetObjectKeyFormat></LoggingEnabled></BucketLoggingStatus>';
  const parsed = parseLoggingXml(text);
  t.same(parsed, { targetBucket: 't', targetPrefix: 'p/', partitioned: { dateSource: 'DeliveryTime' } });
  t.same(parseLoggingXml(renderLogging(parsed)), parsed, 'rendered back, it parses to the same');
  t.equal(parseLoggingXml('<BucketLoggingStatus xmlns="http://doc.s3.amazonaws.com/2006-03-01"></BucketLoggingStatus>'), undefined, 'empty: off');
  t.same(parseLoggingXml('<BucketLoggingStatus><LoggingEnabled><TargetBucket>t</TargetBucket><TargetPrefix></TargetPrefix></LoggingEnabled></BucketLoggingStatus>'), { targetBucket: 't', targetPrefix: '' });
  const refused = (body: string): string | undefined => {
    try {
      parseLoggingXml(body);
      return undefined;
    } catch (err) {
      return err instanceof S3Error ? err.code : 'not an S3 error';
    }
  };
  t.equal(refused('<BucketLoggingStatus><LoggingEnabled><TargetPrefix>p</TargetPrefix></LoggingEnabled></BucketLoggingStatus>'), 'MalformedXML', 'no TargetBucket');
  t.equal(refused('<BucketLoggingStatus><LoggingEnabled><TargetBucket>t</TargetBucket></LoggingEnabled></BucketLoggingStatus>'), 'MalformedXML', 'no TargetPrefix');
  t.equal(refused('<BucketLoggingStatus><LoggingEnabled><TargetBucket>t</TargetBucket><TargetPrefix/><TargetObjectKeyFormat><SimplePrefix/><PartitionedPrefix/></TargetObjectKeyFormat></LoggingEnabled></BucketLoggingStatus>'), 'MalformedXML', 'two formats');
  t.equal(refused(`<BucketLoggingStatus><LoggingEnabled><TargetBucket>t</TargetBucket><TargetPrefix>${'p'.repeat(513)}</TargetPrefix></LoggingEnabled></BucketLoggingStatus>`), 'InvalidArgument', 'a prefix too long');
  t.equal(refused('<BucketLoggingStatus><LoggingEnabled><TargetBucket>t</TargetBucket><TargetPrefix/><TargetGrants/></LoggingEnabled></BucketLoggingStatus>'), 'InvalidTargetBucketForLogging', 'target grants');
  t.equal(refused('<Other/>'), 'MalformedXML');
});

t.test('delivery bounds its records: a full gateway refuses more, and records arriving during a write go together in the next object', async (t) => {
  const writes: { key: string; lines: string[]; release: (err?: Error) => void }[] = [];
  const delivery = new AccessLogDelivery({
    logger: silentLogger(),
    limits: { maxPendingRecords: 3, retryForMs: 60_000 },
    write: (_bucket, key, body) => new Promise<void>((resolve, reject) => writes.push({ key, lines: body.toString().trim().split('\n'), release: (err) => (err === undefined ? resolve() : reject(err)) })),
  });
  const destination = logDestination({ targetBucket: 't', targetPrefix: 'l/' }, { ownerId: 'o', region: 'r', bucket: 'b' });
  t.ok(delivery.reserve() && delivery.reserve() && delivery.reserve(), 'three slots');
  t.notOk(delivery.reserve(), 'a fourth request is refused (SlowDown)');
  const first = delivery.submit(destination, 'one', Date.now());
  await until('the first object is being written', async () => writes.length === 1, 5_000);
  const second = delivery.submit(destination, 'two', Date.now());
  const third = delivery.submit(destination, 'three', Date.now());
  writes[0]?.release();
  await first;
  await until('the second object is being written', async () => writes.length === 2, 5_000);
  t.same(writes[1]?.lines, ['two', 'three'], 'both waiting records in one object');
  writes[1]?.release(new Error('quorum lost'));
  await until('the failed write is retried', async () => writes.length === 3, 10_000);
  t.equal(writes[2]?.key, writes[1]?.key, 'under the same key');
  writes[2]?.release();
  await Promise.all([second, third]);
  t.equal(delivery.figures.pendingRecords, 0, 'every slot given back');
  t.ok(delivery.reserve(), 'and taken again');
  const gone = delivery.submit(destination, 'four', Date.now());
  await until('the fourth object is being written', async () => writes.length === 4, 5_000);
  writes[3]?.release(new LogDeliveryError('LogTargetGone', 'gone'));
  await t.rejects(gone, { code: 'LogTargetGone' });
  t.match(delivery.figures, { recordsWritten: 3, recordsDropped: 1, objectsWritten: 2, refused: 1 });
  await delivery.close();
});

t.test('a held response: the client gets every byte but the last chunk and no end until the record is kept, then all of it', async (t) => {
  let release: (() => void) | undefined;
  let seenBytes = -1;
  const server = createServer((_req, res) => {
    holdResponseEnd(res, async (outcome) => {
      seenBytes = outcome.bodyBytes;
      await new Promise<void>((resolve) => (release = resolve));
      return 'release';
    });
    res.writeHead(200, { 'content-length': '6' });
    res.write('abc');
    res.write('de');
    res.end('f');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => server.close());
  const { port } = server.address() as AddressInfo;
  let received = '';
  let ended = false;
  const response = await new Promise<IncomingMessage>((resolve) => httpRequest({ port, host: '127.0.0.1', path: '/' }, resolve).end());
  response.setEncoding('utf8').on('data', (chunk: string) => (received += chunk));
  response.on('end', () => (ended = true));
  await until('the record is asked for', async () => release !== undefined && received === 'abc', 5_000);
  t.equal(seenBytes, 6, 'the record counts the whole body');
  t.notOk(ended, 'no end while the record waits');
  release?.();
  await until('the response ends', async () => ended, 5_000);
  t.equal(received, 'abcdef');
});
