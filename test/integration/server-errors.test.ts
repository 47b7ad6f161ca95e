import { Writable } from 'node:stream';
import { pino } from 'pino';
import { t } from 'tap';
import { clusterWithBucket } from '../helpers/cluster.js';
import { rawS3, xmlField } from '../gateway/raw-s3.js';

t.test('a 5xx names its request id in the body and in x-amz-request-id, and logs it', { timeout: 120_000 }, async (t) => {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim() !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const { cluster, bucket } = await clusterWithBucket(t, { gatewayLogger: pino({ level: 'info' }, sink) });
  // 4+2 needs four commits: with three of six nodes gone no write can meet its quorum.
  for (const index of [0, 1, 2]) await cluster.stopNode(index);
  const put = await rawS3(cluster.endpoint, { method: 'PUT', bucket, key: 'lost', body: 'x' });
  t.ok(put.status >= 500, `a write without quorum is a server error (${put.status})`);
  const requestId = put.headers['x-amz-request-id'];
  t.match(requestId, /^[0-9A-F]{16}$/, 'x-amz-request-id is set');
  t.equal(xmlField(put.body, 'RequestId'), requestId, 'the body names the same request id');
  t.ok(['ServiceUnavailable', 'SlowDown', 'InternalError'].includes(xmlField(put.body, 'Code') ?? ''), `an S3 code (${xmlField(put.body, 'Code')})`);
  const logged = lines.filter((line) => line['reqId'] === requestId && Number(line['level']) >= 50);
  t.ok(logged.length > 0, 'an error line in the gateway log carries the request id', { lines: lines.slice(-5) });
});
