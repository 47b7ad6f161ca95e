import { connect } from 'node:net';
import { t } from 'tap';
import { ListBucketsCommand } from '@aws-sdk/client-s3';
import { addUser, localS3Client, startCluster, TEST_CREDENTIALS, writeGatewayConfig } from '../helpers/cluster.js';
import { until } from '../helpers/until.js';

/**
 * Who may use the console, and what its routes refuse. It shows every bucket, key, version and shard of
 * the cluster, so only the administrators' keys sign in; its sign-in takes JSON only and a body that
 * arrives in time; asset names are its own, never an object's inherited members.
 */
const cluster = await startCluster({ nodeHealing: false });
t.teardown(() => cluster.close());
const configFile = await writeGatewayConfig(cluster);
const api = `${cluster.endpoint}/-/console/api`;

async function signIn(keys: { accessKeyId: string; secretAccessKey: string }, contentType = 'application/json'): Promise<Response> {
  return fetch(`${api}/session`, { method: 'POST', headers: { 'content-type': contentType }, body: JSON.stringify(keys) });
}

t.test("an administrator's key signs in; a user's key, however correct, does not, and no API answers without a session", async (t) => {
  const admin = await signIn({ ...TEST_CREDENTIALS });
  t.equal(admin.status, 200);
  const cookie = admin.headers.get('set-cookie')?.split(';')[0] ?? '';
  t.match(cookie, /=/, 'a session cookie');
  const buckets = await fetch(`${api}/buckets`, { headers: { cookie } });
  t.equal(buckets.status, 200, "the administrator's session reads the API");
  await buckets.arrayBuffer();

  const reader = await addUser(configFile, 'reader');
  // The gateway follows new users within seconds: their key works for S3 first.
  const s3 = localS3Client(cluster.endpoint, reader, { maxAttempts: 1 });
  t.teardown(() => s3.destroy());
  await until('the gateway knows the new user', async () => (await s3.send(new ListBucketsCommand({}))).Buckets !== undefined, 30_000);
  const user = await signIn(reader);
  t.equal(user.status, 403, "a user's key is refused");
  t.equal(user.headers.get('set-cookie'), null, 'and gets no session');
  t.match(((await user.json()) as { error: string }).error, /administrator/);
  const anonymous = await fetch(`${api}/buckets`);
  t.equal(anonymous.status, 401);
  await anonymous.arrayBuffer();
});

t.test('sign-in takes JSON only, so that a form on another site cannot sign a browser in', async (t) => {
  for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
    const answer = await signIn({ ...TEST_CREDENTIALS }, type);
    t.equal(answer.status, 415, type);
    t.equal(answer.headers.get('set-cookie'), null);
    await answer.arrayBuffer();
  }
});

t.test("asset paths named like an object's inherited members are not found, rather than 500", async (t) => {
  for (const name of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
    const answer = await fetch(`${cluster.endpoint}/-/console/${name}`);
    t.equal(answer.status, 404, name);
    await answer.arrayBuffer();
  }
});

t.test('a sign-in body that trickles in is cut off instead of holding its connection open', async (t) => {
  const { port } = new URL(cluster.endpoint);
  const socket = connect(Number(port), '127.0.0.1');
  socket.on('error', () => undefined);
  const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(performance.now())));
  await new Promise<void>((resolve) => socket.once('connect', resolve));
  const startedMs = performance.now();
  socket.write('POST /-/console/api/session HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: 16000\r\n\r\n{');
  // One byte every two seconds: 16,000 of them would take nine hours.
  const drip = setInterval(() => socket.write(' '), 2_000);
  t.teardown(() => clearInterval(drip));
  // A minute is six times the limit: a connection still open then stays open for as long as the body trickles.
  const endedMs = await Promise.race([closed, new Promise<number>((resolve) => setTimeout(() => resolve(Number.POSITIVE_INFINITY), 60_000).unref())]);
  clearInterval(drip);
  socket.destroy();
  t.ok(endedMs - startedMs < 60_000, `the connection was closed after ${Math.round((endedMs - startedMs) / 1000)} s`);
});
