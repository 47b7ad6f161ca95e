import { connect } from 'node:net';
import { t } from 'tap';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { bucketName } from '../helpers/bytes.js';
import { startCluster } from '../helpers/cluster.js';

// Raw HTTP, so the test sees exactly what goes over the wire before the body is sent.
const cluster = await startCluster({ nodeHealing: false });
t.teardown(() => cluster.close());
const port = Number(new URL(cluster.endpoint).port);
const bucket = bucketName();
await cluster.client().send(new CreateBucketCommand({ Bucket: bucket }));

function exchange(head: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let received = '';
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(received);
    }, 1500);
    socket.on('data', (data) => {
      received += data.toString('latin1');
    });
    socket.on('error', reject);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(received);
    });
    socket.write(head);
  });
}

t.test('an unauthenticated upload with Expect: 100-continue gets 403 without 100 Continue, and no body is read', async (t) => {
  const amzDate = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
  const day = amzDate.slice(0, 8);
  const reply = await exchange(
    `PUT /${bucket}/refused HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1048576\r\nExpect: 100-continue\r\n` +
      `Authorization: AWS4-HMAC-SHA256 Credential=nobody/${day}/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00\r\n` +
      `x-amz-date: ${amzDate}\r\nx-amz-content-sha256: UNSIGNED-PAYLOAD\r\n\r\n`,
  );
  t.notMatch(reply, /100 Continue/, 'no 100 Continue for a refused request');
  t.match(reply, /^HTTP\/1\.1 403 /, 'refused with 403');
  t.match(reply, /<Code>InvalidAccessKeyId<\/Code>/);
  t.match(reply, /connection: close/i, 'the connection is not reused for an unread body');
});
