import { t } from 'tap';
import {
  CreateBucketCommand,
  DeleteBucketCorsCommand,
  GetBucketAclCommand,
  GetBucketCorsCommand,
  GetBucketEncryptionCommand,
  GetBucketLifecycleConfigurationCommand,
  GetBucketLocationCommand,
  GetBucketOwnershipControlsCommand,
  GetBucketPolicyCommand,
  GetBucketReplicationCommand,
  GetBucketWebsiteCommand,
  GetObjectAclCommand,
  GetObjectLockConfigurationCommand,
  GetPublicAccessBlockCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  paginateListBuckets,
  PutBucketAclCommand,
  PutBucketCorsCommand,
  PutObjectAclCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { bucketName } from '../helpers/bytes.js';
import { clusterWithBucket } from '../helpers/cluster.js';
import { rawS3, sdkError, xmlField } from '../gateway/raw-s3.js';

const { cluster, s3, bucket } = await clusterWithBucket(t);
await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'obj', Body: 'o' }));

const CORS_RULES = [
  {
    ID: 'app',
    AllowedOrigins: ['https://app.example.com', 'https://*.example.org', '*.cdn.test'],
    AllowedMethods: ['GET', 'PUT'],
    AllowedHeaders: ['content-type', 'x-amz-*'],
    ExposeHeaders: ['ETag'],
    MaxAgeSeconds: 600,
  },
  { AllowedOrigins: ['*'], AllowedMethods: ['HEAD'] },
];

const preflight = (headers: Record<string, string>, key = 'obj') => rawS3(cluster.endpoint, { method: 'OPTIONS', bucket, key, headers, anonymous: true });

t.test('CORS configuration: NoSuchCORSConfiguration, then put, get back, delete', async (t) => {
  t.same(await sdkError(s3.send(new GetBucketCorsCommand({ Bucket: bucket }))), { name: 'NoSuchCORSConfiguration', status: 404 });
  const noConfig = await preflight({ origin: 'https://app.example.com', 'access-control-request-method': 'GET' });
  t.equal(noConfig.status, 403);
  t.equal(xmlField(noConfig.body, 'Code'), 'AccessForbidden', 'a preflight on a bucket without CORS is 403 AccessForbidden');
  t.equal(xmlField(noConfig.body, 'Message'), 'CORSResponse: CORS is not enabled for this bucket.');
  await s3.send(new PutBucketCorsCommand({ Bucket: bucket, CORSConfiguration: { CORSRules: CORS_RULES } }));
  const got = await s3.send(new GetBucketCorsCommand({ Bucket: bucket }));
  t.same(got.CORSRules, CORS_RULES);
});

t.test('invalid CORS configurations are refused and the stored one stays', async (t) => {
  const bad = (rules: unknown) => sdkError(s3.send(new PutBucketCorsCommand({ Bucket: bucket, CORSConfiguration: { CORSRules: rules as never } })));
  t.same(await bad([{ AllowedOrigins: ['*'], AllowedMethods: ['PATCH'] }]), { name: 'InvalidRequest', status: 400 }, 'unsupported method');
  t.same(await bad([{ AllowedOrigins: ['https://*.*.example.com'], AllowedMethods: ['GET'] }]), { name: 'InvalidRequest', status: 400 }, 'two wildcards');
  t.same(await bad([]), { name: 'MalformedXML', status: 400 }, 'no rules');
  t.same((await s3.send(new GetBucketCorsCommand({ Bucket: bucket }))).CORSRules, CORS_RULES);
});

t.test('OPTIONS preflight is answered unauthenticated from the matching rule; a wildcard origin at the start or middle matches and is echoed', async (t) => {
  const ok = await preflight({ origin: 'https://app.example.com', 'access-control-request-method': 'PUT', 'access-control-request-headers': 'Content-Type, X-Amz-Date' });
  t.equal(ok.status, 200);
  t.equal(ok.headers['access-control-allow-origin'], 'https://app.example.com');
  t.equal(ok.headers['access-control-allow-methods'], 'GET, PUT');
  t.equal(ok.headers['access-control-allow-headers'], 'Content-Type, X-Amz-Date');
  t.equal(ok.headers['access-control-expose-headers'], 'ETag');
  t.equal(ok.headers['access-control-max-age'], '600');
  t.equal(ok.headers['access-control-allow-credentials'], 'true');
  t.match(String(ok.headers['vary']), /Origin/);
  const wildcardOrigin = await preflight({ origin: 'https://sub.example.org', 'access-control-request-method': 'GET' }, '');
  t.equal(wildcardOrigin.status, 200, 'a wildcard origin rule matches; a bucket-level preflight works');
  t.equal(wildcardOrigin.headers['access-control-allow-origin'], 'https://sub.example.org', 'a wildcard match echoes the request\'s origin');
  const leading = await preflight({ origin: 'http://a.b.cdn.test', 'access-control-request-method': 'GET' });
  t.equal(leading.status, 200, 'a wildcard at the start of AllowedOrigin matches any scheme and subdomain');
  t.equal(leading.headers['access-control-allow-origin'], 'http://a.b.cdn.test');
  const lookalike = await preflight({ origin: 'https://badcdn.test', 'access-control-request-method': 'GET' });
  t.equal(lookalike.status, 403, '*.cdn.test needs the dot: a look-alike origin is refused');
  const anyOrigin = await preflight({ origin: 'https://elsewhere.net', 'access-control-request-method': 'HEAD' });
  t.equal(anyOrigin.headers['access-control-allow-origin'], '*');
  t.equal(anyOrigin.headers['access-control-allow-credentials'], undefined, 'no credentials with a * origin');
});

t.test('a preflight no rule allows is 403 AccessForbidden naming the method and resource; a malformed one is 400', async (t) => {
  for (const headers of [
    { origin: 'https://evil.example.net', 'access-control-request-method': 'GET' },
    { origin: 'https://app.example.com', 'access-control-request-method': 'DELETE' },
    { origin: 'https://app.example.com', 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' },
  ]) {
    const refused = await preflight(headers);
    t.equal(refused.status, 403, JSON.stringify(headers));
    t.equal(xmlField(refused.body, 'Code'), 'AccessForbidden');
    t.match(xmlField(refused.body, 'Message'), /^CORSResponse: This CORS request is not allowed\./);
    t.equal(xmlField(refused.body, 'Method'), headers['access-control-request-method']);
    t.equal(xmlField(refused.body, 'ResourceType'), 'OBJECT');
    t.equal(refused.headers['access-control-allow-origin'], undefined);
  }
  const noOrigin = await preflight({ 'access-control-request-method': 'GET' });
  t.equal(noOrigin.status, 400);
  t.equal(xmlField(noOrigin.body, 'Code'), 'BadRequest');
  const noMethod = await preflight({ origin: 'https://app.example.com' });
  t.equal(noMethod.status, 400);
  const missingBucket = await rawS3(cluster.endpoint, { method: 'OPTIONS', bucket: 'no-such-bucket-zz', headers: { origin: 'https://a', 'access-control-request-method': 'GET' }, anonymous: true });
  t.equal(xmlField(missingBucket.body, 'Code'), 'NoSuchBucket');
});

t.test('actual requests with an allowed Origin get CORS headers, also on errors; others get none', async (t) => {
  const allowed = await rawS3(cluster.endpoint, { method: 'GET', bucket, key: 'obj', headers: { origin: 'https://app.example.com' } });
  t.equal(allowed.status, 200);
  t.equal(allowed.headers['access-control-allow-origin'], 'https://app.example.com');
  t.equal(allowed.headers['access-control-expose-headers'], 'ETag');
  const missing = await rawS3(cluster.endpoint, { method: 'GET', bucket, key: 'absent', headers: { origin: 'https://app.example.com' } });
  t.equal(missing.status, 404);
  t.equal(missing.headers['access-control-allow-origin'], 'https://app.example.com', 'a browser can read the error');
  const other = await rawS3(cluster.endpoint, { method: 'GET', bucket, key: 'obj', headers: { origin: 'https://evil.example.net' } });
  t.equal(other.status, 200);
  t.equal(other.headers['access-control-allow-origin'], undefined);
  await s3.send(new DeleteBucketCorsCommand({ Bucket: bucket }));
  t.same(await sdkError(s3.send(new GetBucketCorsCommand({ Bucket: bucket }))), { name: 'NoSuchCORSConfiguration', status: 404 });
  const after = await rawS3(cluster.endpoint, { method: 'GET', bucket, key: 'obj', headers: { origin: 'https://app.example.com' } });
  t.equal(after.headers['access-control-allow-origin'], undefined, 'deleted rules allow nothing');
});

t.test('GetBucketAcl and GetObjectAcl answer the owner with FULL_CONTROL', async (t) => {
  for (const acl of [await s3.send(new GetBucketAclCommand({ Bucket: bucket })), await s3.send(new GetObjectAclCommand({ Bucket: bucket, Key: 'obj' }))]) {
    t.equal(acl.Owner?.ID, 'test-access-key');
    t.same(acl.Grants?.map((g) => [g.Grantee?.Type, g.Grantee?.ID, g.Permission]), [['CanonicalUser', 'test-access-key', 'FULL_CONTROL']]);
  }
  t.same(await sdkError(s3.send(new GetObjectAclCommand({ Bucket: bucket, Key: 'absent' }))), { name: 'NoSuchKey', status: 404 });
});

t.test('Put*Acl and x-amz-acl set the ACLs Get*Acl answer (ObjectWriter ownership: ACLs are honoured)', async (t) => {
  await s3.send(new PutBucketAclCommand({ Bucket: bucket, ACL: 'private' }));
  await s3.send(new PutObjectAclCommand({ Bucket: bucket, Key: 'obj', ACL: 'bucket-owner-full-control' }));
  const owner = { ID: 'test-access-key', DisplayName: 'test-access-key' };
  await s3.send(
    new PutObjectAclCommand({ Bucket: bucket, Key: 'obj', AccessControlPolicy: { Owner: owner, Grants: [{ Grantee: { Type: 'CanonicalUser', ID: owner.ID }, Permission: 'FULL_CONTROL' }] } }),
  );
  await s3.send(new PutBucketAclCommand({ Bucket: bucket, ACL: 'public-read' }));
  const bucketAcl = await s3.send(new GetBucketAclCommand({ Bucket: bucket }));
  t.same(bucketAcl.Grants?.map((g) => [g.Grantee?.Type, g.Permission]), [['CanonicalUser', 'FULL_CONTROL'], ['Group', 'READ']]);
  await s3.send(new PutBucketAclCommand({ Bucket: bucket, ACL: 'private' }));
  await s3.send(
    new PutObjectAclCommand({
      Bucket: bucket,
      Key: 'obj',
      AccessControlPolicy: { Owner: owner, Grants: [{ Grantee: { Type: 'Group', URI: 'http://acs.amazonaws.com/groups/global/AllUsers' }, Permission: 'READ' }] },
    }),
  );
  const objectAcl = await s3.send(new GetObjectAclCommand({ Bucket: bucket, Key: 'obj' }));
  t.same(objectAcl.Grants?.map((g) => [g.Grantee?.URI, g.Permission]), [['http://acs.amazonaws.com/groups/global/AllUsers', 'READ']], 'a document replaces the whole ACL');
  await s3.send(new PutObjectAclCommand({ Bucket: bucket, Key: 'obj', ACL: 'private' }));
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'public', Body: 'p', ACL: 'public-read' }));
  t.same((await s3.send(new GetObjectAclCommand({ Bucket: bucket, Key: 'public' }))).Grants?.map((g) => g.Permission), ['FULL_CONTROL', 'READ']);
  t.same(await sdkError(s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'bad', Body: 'p', ACL: 'public-everything' as 'private' }))), { name: 'InvalidArgument', status: 400 });
  t.same(await sdkError(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'bad' }))), { name: 'NotFound', status: 404 }, 'the refused PUT stored nothing');
  const created = bucketName();
  await s3.send(new CreateBucketCommand({ Bucket: created, ACL: 'public-read-write' }));
  t.same((await s3.send(new GetBucketAclCommand({ Bucket: created }))).Grants?.map((g) => g.Permission), ['FULL_CONTROL', 'READ', 'WRITE']);
  const locked = bucketName();
  await s3.send(new CreateBucketCommand({ Bucket: locked, ObjectLockEnabledForBucket: true }));
  t.equal((await s3.send(new GetObjectLockConfigurationCommand({ Bucket: locked }))).ObjectLockConfiguration?.ObjectLockEnabled, 'Enabled', 'Object Lock is enabled with the bucket');
});

t.test('configuration probes answer S3\'s "not configured" errors, not NotImplemented', async (t) => {
  // Each probe is sent when its turn comes. Sent all at once and awaited in turn, a probe that failed
  // while an earlier one was still awaited had no handler yet: an unhandled rejection, which fails the file.
  const probes: [string, () => Promise<unknown>][] = [
    ['NoSuchBucketPolicy', () => s3.send(new GetBucketPolicyCommand({ Bucket: bucket }))],
    ['ServerSideEncryptionConfigurationNotFoundError', () => s3.send(new GetBucketEncryptionCommand({ Bucket: bucket }))],
    ['ObjectLockConfigurationNotFoundError', () => s3.send(new GetObjectLockConfigurationCommand({ Bucket: bucket }))],
    ['NoSuchLifecycleConfiguration', () => s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: bucket }))],
    ['NoSuchWebsiteConfiguration', () => s3.send(new GetBucketWebsiteCommand({ Bucket: bucket }))],
    ['ReplicationConfigurationNotFoundError', () => s3.send(new GetBucketReplicationCommand({ Bucket: bucket }))],
    ['NoSuchPublicAccessBlockConfiguration', () => s3.send(new GetPublicAccessBlockCommand({ Bucket: bucket }))],
  ];
  for (const [code, probe] of probes) t.same(await sdkError(probe()), { name: code, status: 404 }, code);
  t.same(await sdkError(s3.send(new GetBucketPolicyCommand({ Bucket: 'no-such-bucket-zz' }))), { name: 'NoSuchBucket', status: 404 }, 'a missing bucket first');
  const ownership = await s3.send(new GetBucketOwnershipControlsCommand({ Bucket: bucket }));
  t.equal(ownership.OwnershipControls?.Rules?.[0]?.ObjectOwnership, 'ObjectWriter', 'ACLs are honoured, as on S3 buckets made before 2023');
  for (const name of ['logging', 'notification', 'requestPayment', 'accelerate']) {
    const response = await rawS3(cluster.endpoint, { method: 'GET', bucket, query: { [name]: '' } });
    t.equal(response.status, 200, `GET ?${name}`);
  }
  const unsupported = await rawS3(cluster.endpoint, { method: 'PUT', bucket, query: { website: '' }, body: '<WebsiteConfiguration/>' });
  t.equal(unsupported.status, 501, 'setting a configuration Tessera cannot honour is NotImplemented');
  t.equal(xmlField(unsupported.body, 'Code'), 'NotImplemented');
});

t.test('every error is S3 XML with Code, Message, Resource, RequestId and HostId matching the headers', async (t) => {
  const response = await rawS3(cluster.endpoint, { method: 'GET', bucket, key: 'absent' });
  t.equal(response.status, 404);
  t.match(String(response.headers['content-type']), /application\/xml/);
  t.match(response.body, /^<\?xml version="1.0" encoding="UTF-8"\?>\n<Error><Code>NoSuchKey<\/Code>/);
  t.equal(xmlField(response.body, 'Key'), 'absent');
  t.equal(xmlField(response.body, 'Resource'), `/${bucket}/absent`);
  t.equal(xmlField(response.body, 'RequestId'), response.headers['x-amz-request-id']);
  t.equal(xmlField(response.body, 'HostId'), response.headers['x-amz-id-2']);
  const badName = await rawS3(cluster.endpoint, { method: 'PUT', bucket: 'Bad_Bucket' });
  t.equal(badName.status, 400);
  t.equal(xmlField(badName.body, 'Code'), 'InvalidBucketName');
  const location = await s3.send(new GetBucketLocationCommand({ Bucket: bucket }));
  t.equal(location.LocationConstraint, undefined, 'us-east-1 is an empty LocationConstraint');
});

t.test('ListBuckets pages with MaxBuckets and ContinuationToken, filters by Prefix and BucketRegion, and names each bucket\'s region', async (t) => {
  const base = bucketName('lb');
  const names = [0, 1, 2, 3, 4].map((i) => `${base}-p${i}`);
  for (const name of names) await s3.send(new CreateBucketCommand({ Bucket: name }));
  const seen: string[] = [];
  let token: string | undefined;
  let pages = 0;
  do {
    const page = await s3.send(new ListBucketsCommand({ MaxBuckets: 2, Prefix: `${base}-p`, ...(token === undefined ? {} : { ContinuationToken: token }) }));
    t.equal(page.Prefix, `${base}-p`, 'Prefix echoed');
    t.ok((page.Buckets ?? []).every((b) => b.BucketRegion === 'us-east-1'), 'each bucket names its region');
    seen.push(...(page.Buckets ?? []).map((b) => b.Name ?? ''));
    token = page.ContinuationToken;
    pages += 1;
  } while (token !== undefined);
  t.same(seen, names, 'every bucket with the prefix once, in order');
  t.equal(pages, 3, 'two, two and one');
  const paginated: string[] = [];
  for await (const page of paginateListBuckets({ client: s3, pageSize: 3 }, { Prefix: `${base}-p` })) paginated.push(...(page.Buckets ?? []).map((b) => b.Name ?? ''));
  t.same(paginated, names, 'the SDK\'s paginator');
  const here = await s3.send(new ListBucketsCommand({ Prefix: `${base}-p`, BucketRegion: 'us-east-1' }));
  t.equal(here.Buckets?.length, 5, 'bucket-region naming the cluster\'s region lists its buckets');
  const elsewhere = await s3.send(new ListBucketsCommand({ Prefix: `${base}-p`, BucketRegion: 'eu-west-3' }));
  t.same(elsewhere.Buckets ?? [], [], 'another region has none of them');
  t.equal(elsewhere.ContinuationToken, undefined);
  for (const [query, code] of [[{ 'max-buckets': '0' }, 'InvalidArgument'], [{ 'max-buckets': '10001' }, 'InvalidArgument'], [{ 'continuation-token': 'not a token' }, 'InvalidArgument']] as const) {
    const refused = await rawS3(cluster.endpoint, { method: 'GET', query });
    t.equal(refused.status, 400, JSON.stringify(query));
    t.equal(xmlField(refused.body, 'Code'), code);
  }
});
