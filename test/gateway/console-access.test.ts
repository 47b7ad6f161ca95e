import { connect } from 'node:net';
import { t } from 'tap';
import { CreateBucketCommand, GetObjectCommand, HeadBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { localS3Client, startCluster, TEST_CREDENTIALS } from '../helpers/cluster.js';

/**
 * Who may use the console, and what its routes refuse: any key signs in, and its session acts as that
 * key's user through S3's and the admin API's own routes; changes need the page's own header and
 * origin; sign-in takes JSON only and a body that arrives in time; asset names are its own.
 */
const cluster = await startCluster({ nodeHealing: false });
t.teardown(() => cluster.close());
const api = `${cluster.consoleEndpoint}/-/console/api`;

async function signIn(keys: { accessKeyId: string; secretAccessKey: string }, contentType = 'application/json'): Promise<Response> {
  return fetch(`${api}/session`, { method: 'POST', headers: { 'content-type': contentType }, body: JSON.stringify(keys) });
}

/** A signed-in console's requests: its cookie, and the console's header on changes unless told otherwise. */
function consoleSession(cookie: string) {
  return async (method: string, path: string, options: { body?: string; headers?: Record<string, string>; change?: boolean } = {}): Promise<{ status: number; text: string; json: () => any }> => {
    const change = options.change ?? (method !== 'GET' && method !== 'HEAD');
    const headers: Record<string, string> = { cookie, ...(change ? { 'x-tessera-console': '1' } : {}), ...options.headers };
    const answer = await fetch(`${cluster.consoleEndpoint}/-/console/${path}`, { method, headers, ...(options.body === undefined ? {} : { body: options.body }) });
    const text = await answer.text();
    return { status: answer.status, text, json: () => JSON.parse(text) };
  };
}

async function sessionCookie(keys: { accessKeyId: string; secretAccessKey: string }): Promise<string> {
  const answer = await signIn(keys);
  if (answer.status !== 200) throw new Error(`sign-in answered ${answer.status}`);
  await answer.arrayBuffer();
  return answer.headers.get('set-cookie')?.split(';')[0] ?? '';
}

t.test('any key signs in; its session acts as its user through the S3 route and the admin API, and ends with its key', async (t) => {
  const adminCookie = await sessionCookie(TEST_CREDENTIALS);
  const admin = consoleSession(adminCookie);
  const s3 = localS3Client(cluster.endpoint, TEST_CREDENTIALS, { maxAttempts: 1 });
  t.teardown(() => s3.destroy());
  // The administrator makes a user through the console's admin API and gives it the read-only policy.
  const created = await admin('POST', 'admin/v1/users', { body: JSON.stringify({ name: 'viewer' }) });
  t.equal(created.status, 201, 'a user made through the admin API');
  const viewerKeys = { accessKeyId: created.json().accessKeyId as string, secretAccessKey: created.json().secretAccessKey as string };
  t.equal((await admin('PUT', 'admin/v1/users/viewer/policies/readonly')).status, 200, 'a policy attached');
  const viewer = consoleSession(await sessionCookie(viewerKeys));

  t.equal((await admin('PUT', 's3/console-made')).status, 200, "the administrator's session creates a bucket through S3's own route");
  await s3.send(new HeadBucketCommand({ Bucket: 'console-made' }));
  t.equal((await admin('PUT', 's3/console-made/notes/a%20b.txt', { body: 'hello' })).status, 200);
  t.equal(await (await s3.send(new GetObjectCommand({ Bucket: 'console-made', Key: 'notes/a b.txt' }))).Body?.transformToString(), 'hello', 'an object written through the session reads back through the SDK');
  const html = await admin('PUT', 's3/console-made/page.html', { body: '<script>alert(1)</script>', headers: { 'content-type': 'text/html' } });
  t.equal(html.status, 200);
  const opened = await fetch(`${cluster.consoleEndpoint}/-/console/s3/console-made/page.html`, { headers: { cookie: adminCookie } });
  t.match(opened.headers.get('content-security-policy') ?? '', /^sandbox/, 'an object read through the console is sandboxed: it cannot run as the console');
  await opened.arrayBuffer();
  const listed = await viewer('GET', 's3/console-made?list-type=2&prefix=notes%2F');
  t.equal(listed.status, 200, 'the read-only user lists the bucket');
  t.match(listed.text, /<Key>notes\/a b.txt<\/Key>/);
  const refused = await viewer('PUT', 's3/console-made/x.txt', { body: 'no' });
  t.equal(refused.status, 403, "the read-only user's write is refused");
  t.match(refused.text, /<Code>AccessDenied<\/Code>/, "with S3's own error");
  const malformed = await admin('PUT', 's3/console-made?policy', { body: '{"Statement": 5}' });
  t.equal(malformed.status, 400);
  t.match(malformed.text, /<Code>MalformedPolicy<\/Code>/, "a bad bucket policy gets S3's MalformedPolicy");
  t.equal((await viewer('GET', 'admin/v1/users')).status, 403, 'the read-only user may not list users');
  t.ok((await admin('GET', 'admin/v1/users')).json().some((u: { name: string }) => u.name === 'viewer'), 'the administrator may');
  t.equal((await viewer('GET', 'api/overview')).status, 403, 'the cluster pages need admin:ServerInfo');
  t.equal((await viewer('GET', 's3/console-made', { headers: { authorization: 'AWS4-HMAC-SHA256 Credential=x' } })).status, 400, 'a session request carries no signature of its own');

  // The bucket quota through the console's admin API: the same call as `tessera admin bucket quota`.
  t.equal((await viewer('GET', 'admin/v1/buckets/console-made/quota')).status, 403, 'the read-only user may not read quotas');
  t.equal((await admin('PUT', 'admin/v1/buckets/console-made/quota', { body: '{"maxObjects": -1}' })).status, 400, 'a negative limit is refused');
  const quota = await admin('PUT', 'admin/v1/buckets/console-made/quota', { body: '{"maxObjects": 2}' });
  t.same(quota.json().quota, { maxObjects: 2 }, 'a quota set');
  t.equal(quota.json().usage.objects, 2, 'with the usage the nodes count');
  const over = await admin('PUT', 's3/console-made/second.txt', { body: 'two' });
  t.equal(over.status, 403);
  t.match(over.text, /<Code>QuotaExceeded<\/Code>/, 'a write past it is refused');
  t.equal((await admin('DELETE', 'admin/v1/buckets/console-made/quota')).json().quota, null, 'the quota cleared');
  t.equal((await admin('PUT', 's3/console-made/second.txt', { body: 'two' })).status, 200, 'and the write passes');
  t.equal((await admin('GET', 'admin/v1/buckets/no-such-bucket/quota')).status, 404, 'an unknown bucket is NoSuchBucket');

  const mine = (await viewer('GET', 'api/capabilities?bucket=console-made&prefix=notes%2F')).json();
  t.same(mine.admin, [], 'capabilities: the read-only user has no admin action');
  t.ok(mine.bucket.includes('s3:ListBucket') && !mine.bucket.includes('s3:DeleteBucket') && !mine.bucket.includes('s3:PutBucketPolicy'), 'lists the bucket, changes nothing of it');
  t.ok(mine.objects.includes('s3:GetObject') && !mine.objects.includes('s3:PutObject') && !mine.objects.includes('s3:DeleteObject'), 'reads keys, writes none');
  const all = (await admin('GET', 'api/capabilities?bucket=console-made')).json();
  t.ok(all.administrator && all.admin.includes('admin:CreateUser') && all.bucket.includes('s3:DeleteBucket') && all.objects.includes('s3:PutObject'), 'the administrator may do everything');

  const shared = await viewer('POST', 'api/presign', { body: JSON.stringify({ bucket: 'console-made', key: 'notes/a b.txt', expiresSeconds: 600 }) });
  t.equal(shared.status, 200, 'a share link');
  const link = shared.json().url as string;
  t.match(decodeURIComponent(link), new RegExp(`X-Amz-Credential=${viewerKeys.accessKeyId}/`), "signed with the user's own key");
  t.equal(await (await fetch(link)).text(), 'hello', 'the link reads the object without a session');
  t.equal((await viewer('POST', 'api/presign', { body: JSON.stringify({ bucket: 'console-made', key: 'k', expiresSeconds: 604_801 }) })).status, 400, 'a link lasts at most seven days');

  // The session ends with its key: disabled through the admin API, the next call is refused.
  t.equal((await admin('PUT', `admin/v1/keys/${viewerKeys.accessKeyId}`, { body: JSON.stringify({ enabled: false }) })).status, 200);
  t.equal((await viewer('GET', 's3/console-made?list-type=2')).status, 401, 'a disabled key ends its session');
  t.equal((await viewer('GET', 'api/capabilities')).status, 401);
  const anonymous = await fetch(`${api}/buckets`);
  t.equal(anonymous.status, 401, 'no API answers without a session');
  await anonymous.arrayBuffer();
});

t.test('a change that is not the console page\'s own is refused and changes nothing (CSRF)', async (t) => {
  const admin = consoleSession(await sessionCookie(TEST_CREDENTIALS));
  const s3 = localS3Client(cluster.endpoint, TEST_CREDENTIALS, { maxAttempts: 1 });
  t.teardown(() => s3.destroy());
  t.equal((await admin('PUT', 's3/csrf-target', { change: false })).status, 403, 'without the console header');
  t.equal((await admin('PUT', 's3/csrf-target', { headers: { origin: 'https://evil.example' } })).status, 403, 'from another origin');
  t.equal((await admin('POST', 'admin/v1/users', { change: false, body: '{"name":"csrf"}' })).status, 403, 'an admin call without the header');
  t.equal((await admin('POST', 'api/presign', { change: false, body: '{}' })).status, 403, 'a share link without the header');
  await t.rejects(s3.send(new HeadBucketCommand({ Bucket: 'csrf-target' })), { name: 'NotFound' }, 'no bucket was made');
  t.notOk((await admin('GET', 'admin/v1/users')).json().some((u: { name: string }) => u.name === 'csrf'), 'no user was made');
  t.equal((await admin('PUT', 's3/csrf-target', { headers: { origin: cluster.consoleEndpoint } })).status, 200, "the page's own change, with its origin, passes");
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
    const answer = await fetch(`${cluster.consoleEndpoint}/-/console/${name}`);
    t.equal(answer.status, 404, name);
    await answer.arrayBuffer();
  }
});

t.test('a sign-in body that trickles in is cut off instead of holding its connection open', async (t) => {
  const { port } = new URL(cluster.consoleEndpoint);
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

t.test('the console is an origin of its own: the S3 port serves no console, the console port no object', async (t) => {
  const adminCookie = await sessionCookie(TEST_CREDENTIALS);
  const s3 = localS3Client(cluster.endpoint, TEST_CREDENTIALS, { maxAttempts: 1 });
  t.teardown(() => s3.destroy());
  await s3.send(new CreateBucketCommand({ Bucket: 'two-origins' }));
  await s3.send(new PutObjectCommand({ Bucket: 'two-origins', Key: 'page.html', Body: '<script>1</script>', ContentType: 'text/html', ACL: 'public-read' }));
  for (const path of ['/-/console/', '/-/console/api/session', '/-/console/s3/two-origins/page.html', '/-/console/admin/v1/users']) {
    const answer = await fetch(`${cluster.endpoint}${path}`, { headers: { cookie: adminCookie } });
    t.equal(answer.status, 404, `the S3 port does not serve ${path}`);
    t.match(await answer.text(), /console is served on port/);
  }
  const object = await fetch(`${cluster.consoleEndpoint}/two-origins/page.html`);
  t.equal(object.status, 404, 'the console port serves no object, even a public one');
  await object.arrayBuffer();
  const admin = await fetch(`${cluster.consoleEndpoint}/-/admin/v1/users`);
  t.equal(admin.status, 404, 'nor the signed admin API');
  await admin.arrayBuffer();
  const root = await fetch(`${cluster.consoleEndpoint}/`, { redirect: 'manual' });
  t.equal(root.headers.get('location'), '/-/console/', 'its root leads to the console');
  const fromS3Page = await fetch(`${cluster.consoleEndpoint}/-/console/s3/two-origins/page.html`, { headers: { cookie: adminCookie, origin: cluster.endpoint } });
  t.equal(fromS3Page.status, 403, "a read sent by a page of the S3 port's origin (same site: the cookie goes along) is refused");
  await fromS3Page.arrayBuffer();
  const crossSite = await fetch(`${cluster.consoleEndpoint}/-/console/s3/two-origins/page.html`, { headers: { cookie: adminCookie, 'sec-fetch-site': 'same-site' } });
  t.equal(crossSite.status, 403, 'as is one the browser says another origin of the site sent');
  await crossSite.arrayBuffer();
  const own = await fetch(`${cluster.consoleEndpoint}/-/console/s3/two-origins/page.html`, { headers: { cookie: adminCookie, 'sec-fetch-site': 'same-origin' } });
  t.equal(own.status, 200, "the console page's own read passes");
  t.match(own.headers.get('content-security-policy') ?? '', /sandbox/, 'sandboxed, as every object read through the console');
  await own.arrayBuffer();
});
