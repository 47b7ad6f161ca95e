import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteBucketLifecycleCommand,
  GetBucketLifecycleConfigurationCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListPartsCommand,
  PutBucketLifecycleConfigurationCommand,
  PutObjectCommand,
  S3ServiceException,
  UploadPartCommand,
  type LifecycleRule,
} from '@aws-sdk/client-s3';
import { t } from 'tap';
import { clusterWithBucket } from '../helpers/cluster.js';
import { rawS3 } from './raw-s3.js';

/**
 * Bucket lifecycle configuration through the gateway: S3's document round-trips, every malformed or
 * unsupported document is refused with S3's code and changes nothing, and GET/HEAD and multipart
 * uploads announce the dates the rules set (x-amz-expiration, x-amz-abort-date). The worker that acts
 * on the rules is proved in test/integration/lifecycle-worker.test.ts.
 */

const DAY_MS = 86_400_000;
const { cluster, s3, bucket } = await clusterWithBucket(t, { gatewayOverrides: { metadataTimeoutMs: 30_000, stallTimeoutMs: 30_000 } });

async function s3Error(promise: Promise<unknown>): Promise<{ status: number | undefined; code: string }> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof S3ServiceException) return { status: err.$metadata.httpStatusCode, code: err.name };
    throw err;
  }
  throw new Error('the request succeeded');
}

async function putLifecycleXml(xml: string, target = bucket): Promise<{ status: number; code: string; message: string }> {
  const response = await rawS3(cluster.endpoint, { method: 'PUT', bucket: target, query: { lifecycle: '' }, body: xml, headers: { 'content-type': 'application/xml' } });
  return { status: response.status, code: /<Code>([^<]*)<\/Code>/.exec(response.body)?.[1] ?? '', message: /<Message>([^<]*)<\/Message>/.exec(response.body)?.[1] ?? '' };
}

function lifecycle(rules: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?><LifecycleConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${rules}</LifecycleConfiguration>`;
}

/** S3's rule for Days: creation time plus the days, rounded up to the next midnight UTC. */
function expectedExpiry(lastModified: Date, days: number): number {
  return Math.ceil((lastModified.getTime() + days * DAY_MS) / DAY_MS) * DAY_MS;
}

function expiryOf(header: string | undefined): { date: number; ruleId: string } | undefined {
  if (header === undefined) return undefined;
  const match = /^expiry-date="([^"]+)", rule-id="([^"]*)"$/.exec(header);
  if (match === null) throw new Error(`x-amz-expiration not in S3's form: ${header}`);
  return { date: Date.parse(match[1] as string), ruleId: match[2] as string };
}

t.test('a bucket without rules answers NoSuchLifecycleConfiguration, and DeleteBucketLifecycle is 204 all the same', async (t) => {
  t.same(await s3Error(s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: bucket }))), { status: 404, code: 'NoSuchLifecycleConfiguration' });
  const deleted = await rawS3(cluster.endpoint, { method: 'DELETE', bucket, query: { lifecycle: '' } });
  t.equal(deleted.status, 204);
});

t.test('every filter and action S3 has round-trips through Put and GetBucketLifecycleConfiguration', async (t) => {
  const rules: LifecycleRule[] = [
    { ID: 'logs', Status: 'Enabled', Filter: { Prefix: 'logs/' }, Expiration: { Days: 30 } },
    { ID: 'tagged', Status: 'Enabled', Filter: { Tag: { Key: 'class', Value: 'scratch' } }, Expiration: { Days: 1 } },
    {
      ID: 'combined',
      Status: 'Disabled',
      Filter: { And: { Prefix: 'data/', Tags: [{ Key: 'a', Value: '1' }, { Key: 'b', Value: '2' }], ObjectSizeGreaterThan: 100, ObjectSizeLessThan: 1000 } },
      Expiration: { Date: new Date('2030-01-01T00:00:00Z') },
    },
    { ID: 'small', Status: 'Enabled', Filter: { ObjectSizeLessThan: 10 }, NoncurrentVersionExpiration: { NoncurrentDays: 7, NewerNoncurrentVersions: 3 } },
    { ID: 'markers', Status: 'Enabled', Filter: { Prefix: '' }, Expiration: { ExpiredObjectDeleteMarker: true }, AbortIncompleteMultipartUpload: { DaysAfterInitiation: 2 } },
  ];
  await s3.send(new PutBucketLifecycleConfigurationCommand({ Bucket: bucket, LifecycleConfiguration: { Rules: rules } }));
  const got = await s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: bucket }));
  t.same(
    got.Rules?.map((rule) => ({ ID: rule.ID, Status: rule.Status, Filter: rule.Filter, Expiration: rule.Expiration, NoncurrentVersionExpiration: rule.NoncurrentVersionExpiration, AbortIncompleteMultipartUpload: rule.AbortIncompleteMultipartUpload })),
    rules.map((rule) => ({
      ID: rule.ID,
      Status: rule.Status,
      Filter: rule.Filter,
      Expiration: rule.Expiration,
      NoncurrentVersionExpiration: rule.NoncurrentVersionExpiration,
      AbortIncompleteMultipartUpload: rule.AbortIncompleteMultipartUpload,
    })),
  );
  await s3.send(new DeleteBucketLifecycleCommand({ Bucket: bucket }));
  t.same(await s3Error(s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: bucket }))), { status: 404, code: 'NoSuchLifecycleConfiguration' });
});

t.test('the legacy top-level Prefix is kept as written, and a rule without an ID is given one', async (t) => {
  const put = await putLifecycleXml(lifecycle('<Rule><Prefix>old/</Prefix><Status>Enabled</Status><Expiration><Days>3</Days></Expiration></Rule>'));
  t.equal(put.status, 200, put.message);
  const raw = await rawS3(cluster.endpoint, { method: 'GET', bucket, query: { lifecycle: '' } });
  t.equal(raw.status, 200);
  t.match(raw.body, /<Rule><ID>[^<]+<\/ID><Prefix>old\/<\/Prefix><Status>Enabled<\/Status><Expiration><Days>3<\/Days><\/Expiration><\/Rule>/);
  t.notMatch(raw.body, /<Filter>/);
  const got = await s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: bucket }));
  t.ok((got.Rules?.[0]?.ID ?? '').length > 0, 'a generated ID');
  t.equal(got.Rules?.[0]?.Prefix, 'old/');
});

t.test('documents S3 refuses are refused with its codes, and a refused document changes nothing', async (t) => {
  const good = lifecycle('<Rule><ID>keep</ID><Filter><Prefix>k/</Prefix></Filter><Status>Enabled</Status><Expiration><Days>5</Days></Expiration></Rule>');
  t.equal((await putLifecycleXml(good)).status, 200);
  const rule = (body: string): string => lifecycle(`<Rule><ID>r</ID>${body}</Rule>`);
  const cases: [string, string, string][] = [
    ['not XML', '<LifecycleConfiguration><Rule>', 'MalformedXML'],
    ['another root', '<Tagging><TagSet/></Tagging>', 'MalformedXML'],
    ['no rules', lifecycle(''), 'MalformedXML'],
    ['a Status other than Enabled/Disabled', rule('<Filter/><Status>On</Status><Expiration><Days>1</Days></Expiration>'), 'MalformedXML'],
    ['no Status', rule('<Filter/><Expiration><Days>1</Days></Expiration>'), 'MalformedXML'],
    ['both Filter and Prefix', rule('<Prefix>a</Prefix><Filter><Prefix>a</Prefix></Filter><Status>Enabled</Status><Expiration><Days>1</Days></Expiration>'), 'MalformedXML'],
    ['neither Filter nor Prefix', rule('<Status>Enabled</Status><Expiration><Days>1</Days></Expiration>'), 'MalformedXML'],
    ['two conditions without And', rule('<Filter><Prefix>a</Prefix><Tag><Key>k</Key><Value>v</Value></Tag></Filter><Status>Enabled</Status><Expiration><Days>1</Days></Expiration>'), 'MalformedXML'],
    ['an unknown element', rule('<Filter/><Status>Enabled</Status><Expiration><Days>1</Days></Expiration><Colour>red</Colour>'), 'MalformedXML'],
    ['Days that are not a number', rule('<Filter/><Status>Enabled</Status><Expiration><Days>soon</Days></Expiration>'), 'MalformedXML'],
    ['an empty Expiration', rule('<Filter/><Status>Enabled</Status><Expiration></Expiration>'), 'MalformedXML'],
    ['Days of 0', rule('<Filter/><Status>Enabled</Status><Expiration><Days>0</Days></Expiration>'), 'InvalidArgument'],
    ['a Date not at midnight UTC', rule('<Filter/><Status>Enabled</Status><Expiration><Date>2030-01-01T12:00:00Z</Date></Expiration>'), 'InvalidArgument'],
    ['NoncurrentDays of 0', rule('<Filter/><Status>Enabled</Status><NoncurrentVersionExpiration><NoncurrentDays>0</NoncurrentDays></NoncurrentVersionExpiration>'), 'InvalidArgument'],
    [
      'NewerNoncurrentVersions over 100',
      rule('<Filter/><Status>Enabled</Status><NoncurrentVersionExpiration><NoncurrentDays>1</NoncurrentDays><NewerNoncurrentVersions>101</NewerNoncurrentVersions></NoncurrentVersionExpiration>'),
      'InvalidArgument',
    ],
    ['DaysAfterInitiation of 0', rule('<Filter/><Status>Enabled</Status><AbortIncompleteMultipartUpload><DaysAfterInitiation>0</DaysAfterInitiation></AbortIncompleteMultipartUpload>'), 'InvalidArgument'],
    [
      'ObjectSizeGreaterThan not below ObjectSizeLessThan',
      rule('<Filter><And><ObjectSizeGreaterThan>10</ObjectSizeGreaterThan><ObjectSizeLessThan>10</ObjectSizeLessThan></And></Filter><Status>Enabled</Status><Expiration><Days>1</Days></Expiration>'),
      'InvalidArgument',
    ],
    ['an ID over 255 characters', lifecycle(`<Rule><ID>${'x'.repeat(256)}</ID><Filter/><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule>`), 'InvalidArgument'],
    [
      'two rules with one ID',
      lifecycle('<Rule><ID>same</ID><Filter/><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule><Rule><ID>same</ID><Filter/><Status>Enabled</Status><Expiration><Days>2</Days></Expiration></Rule>'),
      'InvalidArgument',
    ],
    [
      'duplicate tag keys in And',
      rule('<Filter><And><Tag><Key>k</Key><Value>1</Value></Tag><Tag><Key>k</Key><Value>2</Value></Tag></And></Filter><Status>Enabled</Status><Expiration><Days>1</Days></Expiration>'),
      'InvalidArgument',
    ],
    ['Days with Date', rule('<Filter/><Status>Enabled</Status><Expiration><Days>1</Days><Date>2030-01-01T00:00:00Z</Date></Expiration>'), 'InvalidRequest'],
    ['ExpiredObjectDeleteMarker with Days', rule('<Filter/><Status>Enabled</Status><Expiration><Days>1</Days><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration>'), 'InvalidRequest'],
    ['a rule with no action', rule('<Filter/><Status>Enabled</Status>'), 'InvalidRequest'],
    [
      'AbortIncompleteMultipartUpload with a tag filter',
      rule('<Filter><Tag><Key>k</Key><Value>v</Value></Tag></Filter><Status>Enabled</Status><AbortIncompleteMultipartUpload><DaysAfterInitiation>1</DaysAfterInitiation></AbortIncompleteMultipartUpload>'),
      'InvalidRequest',
    ],
    [
      'ExpiredObjectDeleteMarker with a tag filter',
      rule('<Filter><Tag><Key>k</Key><Value>v</Value></Tag></Filter><Status>Enabled</Status><Expiration><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration>'),
      'InvalidRequest',
    ],
  ];
  for (const [what, xml, code] of cases) {
    const answer = await putLifecycleXml(xml);
    t.equal(answer.status, 400, `${what}: 400`);
    t.equal(answer.code, code, `${what}: ${code} (${answer.message})`);
  }
  const transition = await putLifecycleXml(rule('<Filter/><Status>Enabled</Status><Transition><Days>30</Days><StorageClass>GLACIER</StorageClass></Transition>'));
  t.same([transition.status, transition.code], [400, 'InvalidRequest'], 'Transition is refused');
  t.match(transition.message, /single storage class/, 'and the message says why');
  const noncurrentTransition = await putLifecycleXml(
    rule('<Filter/><Status>Enabled</Status><NoncurrentVersionTransition><NoncurrentDays>30</NoncurrentDays><StorageClass>GLACIER</StorageClass></NoncurrentVersionTransition>'),
  );
  t.same([noncurrentTransition.status, noncurrentTransition.code], [400, 'InvalidRequest'], 'NoncurrentVersionTransition is refused');
  const after = await s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: bucket }));
  t.same(after.Rules?.map((r) => [r.ID, r.Filter?.Prefix, r.Expiration?.Days]), [['keep', 'k/', 5]], 'the earlier configuration is untouched');
  t.same(await s3Error(s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: 'no-such-bucket-lifecycle' }))), { status: 404, code: 'NoSuchBucket' });
});

t.test('GET and HEAD announce x-amz-expiration for the objects an enabled rule selects, by the earliest rule', async (t) => {
  await s3.send(
    new PutBucketLifecycleConfigurationCommand({
      Bucket: bucket,
      LifecycleConfiguration: {
        Rules: [
          { ID: 'logs-3d', Status: 'Enabled', Filter: { Prefix: 'logs/' }, Expiration: { Days: 3 } },
          { ID: 'logs-10d', Status: 'Enabled', Filter: { Prefix: 'logs/' }, Expiration: { Days: 10 } },
          { ID: 'scratch', Status: 'Enabled', Filter: { And: { Prefix: 'tmp/', Tags: [{ Key: 'class', Value: 'scratch' }] } }, Expiration: { Days: 1 } },
          { ID: 'big', Status: 'Enabled', Filter: { ObjectSizeGreaterThan: 1000 }, Expiration: { Date: new Date('2031-06-01T00:00:00Z') } },
          { ID: 'off', Status: 'Disabled', Filter: { Prefix: 'off/' }, Expiration: { Days: 1 } },
        ],
      },
    }),
  );
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'logs/a.txt', Body: 'log line' }));
  const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'logs/a.txt' }));
  const expiry = expiryOf(head.Expiration);
  t.equal(expiry?.ruleId, 'logs-3d', 'the rule that expires it first');
  t.equal(expiry?.date, expectedExpiry(head.LastModified as Date, 3), 'three days after creation, at the next midnight UTC');
  const get = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'logs/a.txt' }));
  await get.Body?.transformToString();
  t.equal(get.Expiration, head.Expiration, 'GET says the same as HEAD');

  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'tmp/tagged', Body: 'x', Tagging: 'class=scratch' }));
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'tmp/untagged', Body: 'x' }));
  t.equal(expiryOf((await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'tmp/tagged' }))).Expiration)?.ruleId, 'scratch', 'prefix and tag both match');
  t.equal((await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'tmp/untagged' }))).Expiration, undefined, 'the tag is missing: no rule applies');

  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'other/big', Body: Buffer.alloc(2000) }));
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'other/small', Body: Buffer.alloc(10) }));
  t.same(expiryOf((await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'other/big' }))).Expiration), { date: Date.parse('2031-06-01T00:00:00Z'), ruleId: 'big' });
  t.equal((await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'other/small' }))).Expiration, undefined, 'too small for the size rule');

  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'off/x', Body: 'x' }));
  t.equal((await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'off/x' }))).Expiration, undefined, 'a disabled rule announces nothing');
  await s3.send(new DeleteBucketLifecycleCommand({ Bucket: bucket }));
  t.equal((await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'logs/a.txt' }))).Expiration, undefined, 'without rules, no header');
});

t.test('PutObject, CopyObject and CompleteMultipartUpload announce x-amz-expiration too, as S3 documents', async (t) => {
  await s3.send(
    new PutBucketLifecycleConfigurationCommand({
      Bucket: bucket,
      LifecycleConfiguration: { Rules: [{ ID: 'written', Status: 'Enabled', Filter: { Prefix: 'written/' }, Expiration: { Days: 2 } }] },
    }),
  );
  const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'written/put', Body: 'p' }));
  t.equal(expiryOf(put.Expiration)?.ruleId, 'written', 'PutObject');
  const copy = await s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'written/copy', CopySource: `${bucket}/written/put` }));
  t.equal(expiryOf(copy.Expiration)?.ruleId, 'written', 'CopyObject');
  const upload = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'written/mp' }));
  const part = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'written/mp', UploadId: upload.UploadId, PartNumber: 1, Body: 'm' }));
  const done = await s3.send(
    new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'written/mp', UploadId: upload.UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] } }),
  );
  t.equal(expiryOf(done.Expiration)?.ruleId, 'written', 'CompleteMultipartUpload');
  const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'written/put' }));
  t.equal(put.Expiration, head.Expiration, 'the PUT said what HEAD says');
  const outside = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'elsewhere', Body: 'e' }));
  t.equal(outside.Expiration, undefined, 'no rule, no header');
  await s3.send(new DeleteBucketLifecycleCommand({ Bucket: bucket }));
});

t.test('x-amz-expiration carries the rule id URL-encoded, so quotes, commas and spaces in an id keep the header parseable', async (t) => {
  const ruleId = 'keep "30", then drop/é';
  await s3.send(
    new PutBucketLifecycleConfigurationCommand({
      Bucket: bucket,
      LifecycleConfiguration: { Rules: [{ ID: ruleId, Status: 'Enabled', Filter: { Prefix: 'encoded/' }, Expiration: { Days: 2 } }] },
    }),
  );
  const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'encoded/a', Body: 'a' }));
  const expiry = expiryOf(put.Expiration);
  t.equal(expiry?.ruleId, 'keep%20%2230%22%2C%20then%20drop%2F%C3%A9', 'the id as sent');
  t.equal(decodeURIComponent(expiry?.ruleId ?? ''), ruleId, 'decodes to the rule id');
  const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'encoded/a' }));
  t.equal(head.Expiration, put.Expiration, 'HEAD says the same');
  await s3.send(new DeleteBucketLifecycleCommand({ Bucket: bucket }));
});

t.test('a Prefix or a Tag in a filter is kept exactly as written, spaces included: it selects keys, not words', async (t) => {
  const put = await putLifecycleXml(
    lifecycle(
      '<Rule><ID>spaced</ID><Status>Enabled</Status><Filter><Prefix>tmp </Prefix></Filter><Expiration><Days>1</Days></Expiration></Rule>' +
        '<Rule><ID>tagged</ID><Status>Enabled</Status><Filter><Tag><Key> class</Key><Value>scratch </Value></Tag></Filter><Expiration><Days>1</Days></Expiration></Rule>',
    ),
  );
  t.equal(put.status, 200);
  const rules = (await s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: bucket }))).Rules ?? [];
  t.equal(rules.find((r) => r.ID === 'spaced')?.Filter?.Prefix, 'tmp ', 'the prefix keeps its trailing space');
  t.same(rules.find((r) => r.ID === 'tagged')?.Filter?.Tag, { Key: ' class', Value: 'scratch ' }, 'the tag keeps its spaces');
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'tmpdata/keep.txt', Body: 'k' }));
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'tmp /scratch.txt', Body: 's' }));
  t.equal((await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'tmpdata/keep.txt' }))).Expiration, undefined, 'tmpdata/ is not under "tmp "');
  t.equal(expiryOf((await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'tmp /scratch.txt' }))).Expiration)?.ruleId, 'spaced', '"tmp /" is');
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'tag/trimmed', Body: 't', Tagging: 'class=scratch' }));
  t.equal((await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'tag/trimmed' }))).Expiration, undefined, 'class=scratch is not " class"="scratch "');
  await s3.send(new DeleteBucketLifecycleCommand({ Bucket: bucket }));
});

t.test('CreateMultipartUpload and ListParts announce the abort date and rule of AbortIncompleteMultipartUpload', async (t) => {
  await s3.send(
    new PutBucketLifecycleConfigurationCommand({
      Bucket: bucket,
      LifecycleConfiguration: { Rules: [{ ID: 'abort-uploads', Status: 'Enabled', Filter: { Prefix: 'uploads/' }, AbortIncompleteMultipartUpload: { DaysAfterInitiation: 2 } }] },
    }),
  );
  const before = Date.now();
  const created = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'uploads/big.bin' }));
  const after = Date.now();
  t.equal(created.AbortRuleId, 'abort-uploads');
  const abortMs = created.AbortDate?.getTime() ?? 0;
  t.ok(abortMs === expectedExpiry(new Date(before), 2) || abortMs === expectedExpiry(new Date(after), 2), 'two days after initiation, at the next midnight UTC');
  const parts = await s3.send(new ListPartsCommand({ Bucket: bucket, Key: 'uploads/big.bin', UploadId: created.UploadId }));
  t.equal(parts.AbortRuleId, 'abort-uploads');
  t.equal(parts.AbortDate?.getTime(), abortMs);
  const other = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'elsewhere/big.bin' }));
  t.equal(other.AbortDate, undefined, 'no rule selects this key');
  t.equal(other.AbortRuleId, undefined);
  for (const upload of [created, other]) await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: upload.Key, UploadId: upload.UploadId }));
  await s3.send(new DeleteBucketLifecycleCommand({ Bucket: bucket }));
});
