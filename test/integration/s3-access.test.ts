import { t } from 'tap';
import {
  CopyObjectCommand,
  CreateBucketCommand,
  DeleteBucketOwnershipControlsCommand,
  GetBucketAclCommand,
  GetBucketOwnershipControlsCommand,
  GetObjectAclCommand,
  GetObjectCommand,
  ListBucketsCommand,
  ListObjectsV2Command,
  PutBucketAclCommand,
  PutBucketPolicyCommand,
  PutObjectAclCommand,
  PutBucketOwnershipControlsCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { runUserCli } from '../../src/bin/user-cli.js';
import { bucketName } from '../helpers/bytes.js';
import { localS3Client, startCluster, statusOf, writeGatewayConfig } from '../helpers/cluster.js';
import { rawS3, sdkError, xmlField } from '../gateway/raw-s3.js';

const ALL_USERS = 'http://acs.amazonaws.com/groups/global/AllUsers';

const cluster = await startCluster({ nodeHealing: false });
t.teardown(() => cluster.close());
const configFile = await writeGatewayConfig(cluster);

/** Runs `tessera admin user|key ...` against the test cluster; the exit code and what it printed. */
async function admin(noun: 'user' | 'key', ...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runUserCli(noun, [...args, '--config', configFile], {}, { stdout: (s) => void (out += s), stderr: (s) => void (err += s) });
  return { code, out, err };
}

function keysOf(printed: string): { accessKeyId: string; secretAccessKey: string } {
  const accessKeyId = /^access key: (\S+)$/m.exec(printed)?.[1];
  const secretAccessKey = /^secret key: (\S+)$/m.exec(printed)?.[1];
  if (accessKeyId === undefined || secretAccessKey === undefined) throw new Error(`no keys in ${printed}`);
  return { accessKeyId, secretAccessKey };
}

const clients: S3Client[] = [];
function clientFor(credentials: { accessKeyId: string; secretAccessKey: string }): S3Client {
  const client = localS3Client(cluster.endpoint, credentials, { maxAttempts: 1 });
  clients.push(client);
  return client;
}
t.teardown(() => clients.forEach((c) => c.destroy()));

/** Polls `probe` until it holds: a gateway follows user changes within seconds, not at once. */
async function eventually(probe: () => Promise<boolean>, timeoutMs = 20_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await probe()) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return false;
}

async function anonymousGet(path: string): Promise<number> {
  const response = await fetch(`${cluster.endpoint}${path}`);
  await response.arrayBuffer();
  return response.status;
}

const admin3 = cluster.client();
const aliceAdd = await admin('user', 'add', 'alice');
const bobAdd = await admin('user', 'add', 'bob');
const alice = clientFor(keysOf(aliceAdd.out));
const bob = clientFor(keysOf(bobAdd.out));

t.test('tessera admin user add prints the two key lines; list names users and key ids, never secrets', async (t) => {
  t.equal(aliceAdd.code, 0, aliceAdd.err);
  t.match(aliceAdd.out, /^access key: TK[A-Z2-7]{18}\nsecret key: \S{40}\n$/);
  const list = await admin('user', 'list');
  t.equal(list.code, 0);
  t.match(list.out, /^alice\t[0-9a-f]{64}\tTK/m);
  t.match(list.out, /^bob\t/m);
  t.notMatch(list.out, keysOf(aliceAdd.out).secretAccessKey, 'no secret in the listing');
  const again = await admin('user', 'add', 'alice');
  t.equal(again.code, 1, 'a user name is taken once');
  t.match(again.err, /already exists/);
  t.equal((await admin('user', 'add', 'bad name!')).code, 1, 'names follow IAM rules');
});

t.test('a bucket belongs to its creator: ListBuckets per user, owner ids in listings, names taken once', async (t) => {
  const bucket = bucketName('alice');
  await alice.send(new CreateBucketCommand({ Bucket: bucket }));
  await alice.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'x' }));
  const mine = await alice.send(new ListBucketsCommand({}));
  t.same(mine.Buckets?.map((b) => b.Name), [bucket], 'alice lists only her bucket');
  t.equal(mine.Owner?.DisplayName, 'alice');
  t.match(mine.Owner?.ID, /^[0-9a-f]{64}$/);
  const listed = await alice.send(new ListObjectsV2Command({ Bucket: bucket, FetchOwner: true }));
  t.equal(listed.Contents?.[0]?.Owner?.ID, mine.Owner?.ID, 'fetch-owner names the writer');
  t.equal(listed.Contents?.[0]?.Owner?.DisplayName, 'alice');
  t.notOk((await bob.send(new ListBucketsCommand({}))).Buckets?.some((b) => b.Name === bucket), 'bob does not see it');
  t.ok((await admin3.send(new ListBucketsCommand({}))).Buckets?.some((b) => b.Name === bucket), 'the administrator sees every bucket');
  t.same(await sdkError(bob.send(new CreateBucketCommand({ Bucket: bucket }))), { name: 'BucketAlreadyExists', status: 409 });
  await alice.send(new CreateBucketCommand({ Bucket: bucket }));
  t.pass('creating one\'s own bucket again succeeds in us-east-1');
});

t.test('private by default: another user and anonymous are denied every operation; a grant in the source bucket\'s policy then authorizes a copy', async (t) => {
  const bucket = bucketName('private');
  await alice.send(new CreateBucketCommand({ Bucket: bucket }));
  await alice.send(new PutObjectCommand({ Bucket: bucket, Key: 'secret', Body: 's' }));
  const denied = { name: 'AccessDenied', status: 403 };
  t.same(await sdkError(bob.send(new GetObjectCommand({ Bucket: bucket, Key: 'secret' }))), denied, 'bob GET');
  t.same(await sdkError(bob.send(new PutObjectCommand({ Bucket: bucket, Key: 'bob', Body: 'b' }))), denied, 'bob PUT');
  t.same(await sdkError(bob.send(new ListObjectsV2Command({ Bucket: bucket }))), denied, 'bob LIST');
  t.same(await sdkError(bob.send(new GetBucketAclCommand({ Bucket: bucket }))), denied, 'bob GetBucketAcl');
  t.same(await sdkError(bob.send(new PutBucketAclCommand({ Bucket: bucket, ACL: 'public-read' }))), denied, 'bob PutBucketAcl');
  t.equal(await anonymousGet(`/${bucket}/secret`), 403, 'anonymous GET');
  t.equal(await anonymousGet(`/${bucket}`), 403, 'anonymous LIST');
  t.equal(await anonymousGet('/'), 403, 'anonymous ListBuckets');
  const anonymousPut = await fetch(`${cluster.endpoint}/${bucket}/anon`, { method: 'PUT', body: 'a' });
  t.equal(anonymousPut.status, 403, 'anonymous PUT');
  t.equal(xmlField(await anonymousPut.text(), 'Code'), 'AccessDenied');
  t.equal(await anonymousGet(`/${bucketName('missing')}/k`), 404, 'a missing bucket is NoSuchBucket for anyone');
  const url = await getSignedUrl(bob, new GetObjectCommand({ Bucket: bucket, Key: 'secret' }), { expiresIn: 300 });
  t.equal((await fetch(url)).status, 403, 'a presigned URL made by a user without READ is refused');
  const source = bucketName('bobs');
  await bob.send(new CreateBucketCommand({ Bucket: source }));
  t.same(
    await sdkError(bob.send(new CopyObjectCommand({ Bucket: source, Key: 'stolen', CopySource: `${bucket}/secret` }))),
    denied,
    'a copy needs READ on its source',
  );
  await alice.send(
    new PutBucketPolicyCommand({
      Bucket: bucket,
      Policy: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::tessera:user/bob' }, Action: 's3:GetObject', Resource: `arn:aws:s3:::${bucket}/secret` }] }),
    }),
  );
  await bob.send(new CopyObjectCommand({ Bucket: source, Key: 'granted', CopySource: `${bucket}/secret` }));
  t.equal(await (await bob.send(new GetObjectCommand({ Bucket: source, Key: 'granted' }))).Body?.transformToString(), 's', "the source bucket's policy granting s3:GetObject authorizes the copy");
  t.equal((await admin3.send(new GetObjectCommand({ Bucket: bucket, Key: 'secret' }))).$metadata.httpStatusCode, 200, 'the administrator reads anything');
});

t.test('canned ACLs: public-read objects and buckets open reads to anyone, public-read-write opens writes', async (t) => {
  const bucket = bucketName('public');
  await alice.send(new CreateBucketCommand({ Bucket: bucket }));
  await alice.send(new PutObjectCommand({ Bucket: bucket, Key: 'open', Body: 'o', ACL: 'public-read' }));
  await alice.send(new PutObjectCommand({ Bucket: bucket, Key: 'closed', Body: 'c' }));
  t.equal(await anonymousGet(`/${bucket}/open`), 200, 'anonymous GET of a public-read object');
  t.equal(await anonymousGet(`/${bucket}/closed`), 403, 'its private neighbour stays private');
  t.equal(await (await bob.send(new GetObjectCommand({ Bucket: bucket, Key: 'open' }))).Body?.transformToString(), 'o');
  t.equal(await anonymousGet(`/${bucket}`), 403, 'object ACLs do not open the listing');
  await alice.send(new PutBucketAclCommand({ Bucket: bucket, ACL: 'public-read' }));
  t.equal(await anonymousGet(`/${bucket}`), 200, 'a public-read bucket lists for anyone');
  t.equal((await fetch(`${cluster.endpoint}/${bucket}/anon`, { method: 'PUT', body: 'a' })).status, 403, 'but takes no anonymous writes');
  const acl = await alice.send(new GetBucketAclCommand({ Bucket: bucket }));
  t.same(
    acl.Grants?.map((g) => [g.Grantee?.Type, g.Grantee?.URI ?? g.Grantee?.DisplayName, g.Permission]),
    [['CanonicalUser', 'alice', 'FULL_CONTROL'], ['Group', ALL_USERS, 'READ']],
  );
  await alice.send(new PutBucketAclCommand({ Bucket: bucket, ACL: 'public-read-write' }));
  t.equal((await fetch(`${cluster.endpoint}/${bucket}/anon`, { method: 'PUT', body: 'a' })).status, 200, 'public-read-write takes anonymous writes');
  await alice.send(new PutBucketAclCommand({ Bucket: bucket, ACL: 'private' }));
  t.equal(await anonymousGet(`/${bucket}`), 403, 'private again');
  const authenticated = bucketName('authread');
  await alice.send(new CreateBucketCommand({ Bucket: authenticated, ACL: 'authenticated-read' }));
  t.equal((await bob.send(new ListObjectsV2Command({ Bucket: authenticated }))).$metadata.httpStatusCode, 200, 'authenticated-read lists for any user');
  t.equal(await anonymousGet(`/${authenticated}`), 403, 'but not for anonymous');
});

t.test('grant headers and AccessControlPolicy documents, validated as S3 does', async (t) => {
  const bucket = bucketName('grants');
  await alice.send(new CreateBucketCommand({ Bucket: bucket }));
  const bobId = (await bob.send(new ListBucketsCommand({}))).Owner?.ID ?? '';
  const aliceId = (await alice.send(new ListBucketsCommand({}))).Owner?.ID ?? '';
  await alice.send(new PutObjectCommand({ Bucket: bucket, Key: 'for-bob', Body: 'b', GrantRead: `id="${bobId}"` }));
  t.equal(await (await bob.send(new GetObjectCommand({ Bucket: bucket, Key: 'for-bob' }))).Body?.transformToString(), 'b', 'x-amz-grant-read id=');
  t.equal(await anonymousGet(`/${bucket}/for-bob`), 403);
  await alice.send(new PutObjectCommand({ Bucket: bucket, Key: 'doc', Body: 'd' }));
  t.same(await sdkError(bob.send(new GetObjectCommand({ Bucket: bucket, Key: 'doc' }))), { name: 'AccessDenied', status: 403 });
  await alice.send(
    new PutObjectAclCommand({
      Bucket: bucket,
      Key: 'doc',
      AccessControlPolicy: {
        Owner: { ID: aliceId },
        Grants: [
          { Grantee: { Type: 'CanonicalUser', ID: aliceId }, Permission: 'FULL_CONTROL' },
          { Grantee: { Type: 'CanonicalUser', ID: bobId }, Permission: 'READ' },
          { Grantee: { Type: 'Group', URI: ALL_USERS }, Permission: 'READ_ACP' },
        ],
      },
    }),
  );
  t.equal(await (await bob.send(new GetObjectCommand({ Bucket: bucket, Key: 'doc' }))).Body?.transformToString(), 'd', 'PutObjectAcl granted READ in place');
  const objectAcl = await bob.send(new GetObjectAclCommand({ Bucket: bucket, Key: 'doc' }));
  t.same(objectAcl.Grants?.map((g) => g.Permission), ['FULL_CONTROL', 'READ', 'READ_ACP'], 'READ_ACP lets anyone read the ACL');
  t.equal(await anonymousGet(`/${bucket}/doc?acl`), 200);
  t.same(await sdkError(bob.send(new PutObjectAclCommand({ Bucket: bucket, Key: 'doc', ACL: 'public-read' }))), { name: 'AccessDenied', status: 403 }, 'no WRITE_ACP');
  const put = (body: string) => rawS3(cluster.endpoint, { method: 'PUT', bucket, key: 'doc', query: { acl: '' }, body });
  const bad: [string, string, string][] = [
    ['MalformedACLError', 'a bad permission', `<AccessControlPolicy><AccessControlList><Grant><Grantee><ID>${aliceId}</ID></Grantee><Permission>ALL</Permission></Grant></AccessControlList></AccessControlPolicy>`],
    ['MalformedACLError', 'no grantee', '<AccessControlPolicy><AccessControlList><Grant><Permission>READ</Permission></Grant></AccessControlList></AccessControlPolicy>'],
    ['MalformedACLError', 'no list', `<AccessControlPolicy><Owner><ID>${aliceId}</ID></Owner></AccessControlPolicy>`],
    ['MalformedXML', 'not XML', '<AccessControlPolicy'],
    ['UnresolvableGrantByEmailAddress', 'an e-mail grantee', '<AccessControlPolicy><AccessControlList><Grant><Grantee><EmailAddress>a@b.c</EmailAddress></Grantee><Permission>READ</Permission></Grant></AccessControlList></AccessControlPolicy>'],
    ['InvalidArgument', 'an unknown user', `<AccessControlPolicy><AccessControlList><Grant><Grantee><ID>${'0'.repeat(64)}</ID></Grantee><Permission>READ</Permission></Grant></AccessControlList></AccessControlPolicy>`],
    ['AccessDenied', 'an owner change', `<AccessControlPolicy><Owner><ID>${bobId}</ID></Owner><AccessControlList></AccessControlList></AccessControlPolicy>`],
  ];
  for (const [code, what, body] of bad) {
    const response = await put(body);
    t.equal(xmlField(response.body.toString(), 'Code'), code, what);
  }
  t.same(
    (await alice.send(new GetObjectAclCommand({ Bucket: bucket, Key: 'doc' }))).Grants?.map((g) => g.Permission),
    ['FULL_CONTROL', 'READ', 'READ_ACP'],
    'refused documents changed nothing',
  );
  t.same(
    await sdkError(alice.send(new PutObjectCommand({ Bucket: bucket, Key: 'mail', Body: 'm', GrantRead: 'emailAddress="a@b.c"' }))),
    { name: 'UnresolvableGrantByEmailAddress', status: 400 },
  );
  t.same(await sdkError(alice.send(new PutObjectCommand({ Bucket: bucket, Key: 'both', Body: 'm', ACL: 'private', GrantRead: `id="${bobId}"` }))), {
    name: 'InvalidRequest',
    status: 400,
  });
  t.same(await sdkError(alice.send(new GetObjectCommand({ Bucket: bucket, Key: 'both' }))), { name: 'NoSuchKey', status: 404 }, 'a refused PUT stored nothing');
});

t.test('keys rotate without downtime; a removed key or user stops working within seconds', async (t) => {
  const carol = keysOf((await admin('user', 'add', 'carol')).out);
  const second = await admin('key', 'add', 'carol');
  t.equal(second.code, 0, second.err);
  const rotated = keysOf(second.out);
  const first = clientFor(carol);
  const next = clientFor(rotated);
  const bucket = bucketName('carol');
  await first.send(new CreateBucketCommand({ Bucket: bucket }));
  t.equal((await next.send(new ListObjectsV2Command({ Bucket: bucket }))).$metadata.httpStatusCode, 200, 'both keys work at once, as one user');
  t.equal((await admin('key', 'remove', carol.accessKeyId)).code, 0);
  const refused = async (client: S3Client): Promise<boolean> => (await sdkError(client.send(new ListBucketsCommand({}))))?.name === 'InvalidAccessKeyId';
  t.ok(await eventually(() => refused(first)), 'the removed key is refused');
  t.equal((await next.send(new ListObjectsV2Command({ Bucket: bucket }))).$metadata.httpStatusCode, 200, 'the other key still works');
  t.equal((await admin('user', 'remove', 'carol')).code, 0);
  t.ok(await eventually(() => refused(next)), 'a removed user\'s keys are refused');
  t.notMatch((await admin('user', 'list')).out, /^carol\t/m);
  t.equal((await admin('key', 'remove', 'TKNOSUCHKEY')).code, 1);
});

t.test('object ownership: ObjectWriter by default, BucketOwnerEnforced turns ACLs off, BucketOwnerPreferred takes objects over', async (t) => {
  const bucket = bucketName('owned');
  await alice.send(new CreateBucketCommand({ Bucket: bucket, ACL: 'public-read-write' }));
  const ownership = async (): Promise<string | undefined> =>
    (await alice.send(new GetBucketOwnershipControlsCommand({ Bucket: bucket }))).OwnershipControls?.Rules?.[0]?.ObjectOwnership;
  t.equal(await ownership(), 'ObjectWriter');
  const bobId = (await bob.send(new ListBucketsCommand({}))).Owner?.ID ?? '';
  const aliceId = (await alice.send(new ListBucketsCommand({}))).Owner?.ID ?? '';
  await bob.send(new PutObjectCommand({ Bucket: bucket, Key: 'bobs', Body: 'b' }));
  t.equal((await bob.send(new GetObjectAclCommand({ Bucket: bucket, Key: 'bobs' }))).Owner?.ID, bobId, 'the writer owns what it writes');
  t.same(await sdkError(alice.send(new GetObjectCommand({ Bucket: bucket, Key: 'bobs' }))), { name: 'AccessDenied', status: 403 }, 'not even the bucket owner reads it without a grant');
  t.same(
    await sdkError(alice.send(new PutBucketOwnershipControlsCommand({ Bucket: bucket, OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] } }))),
    { name: 'InvalidBucketAclWithObjectOwnership', status: 400 },
    'ACLs that grant others must go before ACLs can be turned off',
  );
  await alice.send(new PutBucketAclCommand({ Bucket: bucket, ACL: 'private' }));
  await alice.send(new PutBucketOwnershipControlsCommand({ Bucket: bucket, OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] } }));
  t.equal(await ownership(), 'BucketOwnerEnforced');
  t.equal(await (await alice.send(new GetObjectCommand({ Bucket: bucket, Key: 'bobs' }))).Body?.transformToString(), 'b', 'enforced: the bucket owner owns every object');
  t.same(await sdkError(alice.send(new PutObjectCommand({ Bucket: bucket, Key: 'p', Body: 'p', ACL: 'public-read' }))), { name: 'AccessControlListNotSupported', status: 400 });
  t.same(await sdkError(alice.send(new PutBucketAclCommand({ Bucket: bucket, ACL: 'public-read' }))), { name: 'AccessControlListNotSupported', status: 400 });
  await alice.send(new PutObjectCommand({ Bucket: bucket, Key: 'p', Body: 'p', ACL: 'bucket-owner-full-control' }));
  t.pass('bucket-owner-full-control is still accepted');
  await alice.send(new PutBucketOwnershipControlsCommand({ Bucket: bucket, OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerPreferred' }] } }));
  await alice.send(new PutBucketAclCommand({ Bucket: bucket, ACL: 'public-read-write' }));
  await bob.send(new PutObjectCommand({ Bucket: bucket, Key: 'given', Body: 'g', ACL: 'bucket-owner-full-control' }));
  t.equal((await alice.send(new GetObjectAclCommand({ Bucket: bucket, Key: 'given' }))).Owner?.ID, aliceId, 'preferred: bucket-owner-full-control hands the object over');
  await alice.send(new DeleteBucketOwnershipControlsCommand({ Bucket: bucket }));
  t.equal(await ownership(), 'ObjectWriter');
  const enforced = bucketName('enforced');
  t.same(
    await sdkError(alice.send(new CreateBucketCommand({ Bucket: enforced, ObjectOwnership: 'BucketOwnerEnforced', ACL: 'public-read' }))),
    { name: 'InvalidBucketAclWithObjectOwnership', status: 400 },
  );
  await alice.send(new CreateBucketCommand({ Bucket: enforced, ObjectOwnership: 'BucketOwnerEnforced' }));
  t.equal((await alice.send(new GetBucketOwnershipControlsCommand({ Bucket: enforced }))).OwnershipControls?.Rules?.[0]?.ObjectOwnership, 'BucketOwnerEnforced');
});

t.test('response-* overrides need a signed request: anonymous GET and HEAD with one are 400 InvalidRequest', async (t) => {
  const bucket = bucketName('overrides');
  await alice.send(new CreateBucketCommand({ Bucket: bucket }));
  await alice.send(new PutObjectCommand({ Bucket: bucket, Key: 'page', Body: '<p>hi</p>', ACL: 'public-read', ContentType: 'text/plain' }));
  const plain = await fetch(`${cluster.endpoint}/${bucket}/page`);
  t.equal(plain.status, 200, 'the public object reads anonymously');
  t.equal(plain.headers.get('content-type'), 'text/plain');
  await plain.arrayBuffer();
  for (const method of ['GET', 'HEAD']) {
    const spoofed = await fetch(`${cluster.endpoint}/${bucket}/page?response-content-type=text/html`, { method });
    t.equal(spoofed.status, 400, `anonymous ${method} with response-content-type`);
    const body = await spoofed.text();
    if (method === 'GET') t.equal(xmlField(body, 'Code'), 'InvalidRequest');
    t.not(spoofed.headers.get('content-type'), 'text/html', 'the override was not applied');
  }
  const signed = await getSignedUrl(alice, new GetObjectCommand({ Bucket: bucket, Key: 'page', ResponseContentType: 'text/html' }), { expiresIn: 300 });
  const presigned = await fetch(signed);
  t.equal(presigned.status, 200, 'a presigned URL may override');
  t.equal(presigned.headers.get('content-type'), 'text/html');
  await presigned.arrayBuffer();
});

t.test('a conditional write with If-Match also needs s3:GetObject: a writer that may not read learns nothing of the ETag', async (t) => {
  const bucket = bucketName('ifmatch');
  await alice.send(new CreateBucketCommand({ Bucket: bucket }));
  const bobId = (await bob.send(new ListBucketsCommand({}))).Owner?.ID ?? '';
  const aliceId = (await alice.send(new ListBucketsCommand({}))).Owner?.ID ?? '';
  await alice.send(new PutBucketAclCommand({ Bucket: bucket, GrantFullControl: `id="${aliceId}"`, GrantWrite: `id="${bobId}"` }));
  const alices = await alice.send(new PutObjectCommand({ Bucket: bucket, Key: 'alices', Body: 'secret' }));
  const denied = { name: 'AccessDenied', status: 403 };
  t.same(await sdkError(bob.send(new GetObjectCommand({ Bucket: bucket, Key: 'alices' }))), denied, 'bob may not read alice’s object');
  t.same(await sdkError(bob.send(new PutObjectCommand({ Bucket: bucket, Key: 'alices', Body: 'x', IfMatch: alices.ETag }))), denied, 'the right ETag: 403, not 200');
  t.same(await sdkError(bob.send(new PutObjectCommand({ Bucket: bucket, Key: 'alices', Body: 'x', IfMatch: '"0123"' }))), denied, 'a wrong ETag: 403, not 412');
  t.same(await sdkError(bob.send(new PutObjectCommand({ Bucket: bucket, Key: 'nobody', Body: 'x', IfMatch: '"0123"' }))), denied, 'a missing key: 403, not 404');
  t.equal(await (await alice.send(new GetObjectCommand({ Bucket: bucket, Key: 'alices' }))).Body?.transformToString(), 'secret', 'nothing was written');
  const bobs = await bob.send(new PutObjectCommand({ Bucket: bucket, Key: 'bobs', Body: 'b1' }));
  await bob.send(new PutObjectCommand({ Bucket: bucket, Key: 'bobs', Body: 'b2', IfMatch: bobs.ETag }));
  t.pass('bob owns what he wrote, so his own If-Match write goes through');
  await alice.send(new PutObjectCommand({ Bucket: bucket, Key: 'alices', Body: 'v2', IfMatch: alices.ETag }));
  t.pass('the owner’s If-Match write goes through');
});

t.test('PutObjectAcl racing an overwrite of the key takes the version current under the lease; it never answers NoSuchVersion', async (t) => {
  const bucket = bucketName('aclrace');
  await alice.send(new CreateBucketCommand({ Bucket: bucket }));
  await alice.send(new PutObjectCommand({ Bucket: bucket, Key: 'raced', Body: 'v0' }));
  const statuses: number[] = [];
  for (let round = 0; round < 40; round += 1) {
    const [acl] = await Promise.allSettled([
      alice.send(new PutObjectAclCommand({ Bucket: bucket, Key: 'raced', ACL: round % 2 === 0 ? 'public-read' : 'private' })),
      alice.send(new PutObjectCommand({ Bucket: bucket, Key: 'raced', Body: `v${round + 1}` })),
    ]);
    statuses.push(await statusOf(acl.status === 'fulfilled' ? Promise.resolve() : Promise.reject(acl.reason)));
  }
  t.same(
    statuses.filter((status) => status !== 200),
    [],
    'every ACL change answered 200',
  );
});
