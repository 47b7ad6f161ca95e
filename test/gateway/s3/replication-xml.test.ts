import { t } from 'tap';
import { parseReplicationXml, renderReplication } from '../../../src/gateway/s3/index.js';

const NS = 'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"';
const SITE_B = 'arn:tessera:replication::site-b:replicas';
const REGION = 'us-east-1';
const ids = (): (() => string) => {
  let n = 0;
  return () => `generated-${(n += 1)}`;
};
const doc = (...rules: string[]): string => `<ReplicationConfiguration ${NS}><Role>arn:aws:iam::123456789012:role/replication</Role>${rules.join('')}</ReplicationConfiguration>`;
/** A current-schema rule: the parts given replace the defaults. */
const rule = (parts: { id?: string; priority?: string; filter?: string; status?: string; markers?: string; destination?: string; extra?: string } = {}): string =>
  `<Rule>${parts.id === undefined ? '' : `<ID>${parts.id}</ID>`}${parts.priority === undefined ? '<Priority>1</Priority>' : parts.priority}${parts.filter ?? '<Filter/>'}<Status>${parts.status ?? 'Enabled'}</Status>${
    parts.markers ?? '<DeleteMarkerReplication><Status>Disabled</Status></DeleteMarkerReplication>'
  }${parts.destination ?? `<Destination><Bucket>${SITE_B}</Bucket></Destination>`}${parts.extra ?? ''}</Rule>`;
const parse = (body: string): ReturnType<typeof parseReplicationXml> => parseReplicationXml(body, REGION, ids());

t.test('rules keep their ID, priority, filter, statuses and destination, and render back as S3 answers them', async (t) => {
  const configuration = parse(
    doc(
      rule({ id: 'models', priority: '<Priority>5</Priority>', filter: '<Filter><Prefix>models/</Prefix></Filter>', markers: '<DeleteMarkerReplication><Status>Enabled</Status></DeleteMarkerReplication>', extra: '<ExistingObjectReplication><Status>Enabled</Status></ExistingObjectReplication>' }),
      rule({ id: 'gold', priority: '<Priority>4</Priority>', filter: '<Filter><Tag><Key>tier</Key><Value>gold</Value></Tag></Filter>' }),
      rule({ priority: '<Priority>3</Priority>', filter: '<Filter><And><Prefix>logs/</Prefix><Tag><Key>a</Key><Value>1</Value></Tag><Tag><Key>b</Key><Value></Value></Tag></And></Filter>', status: 'Disabled' }),
      rule({ priority: '<Priority>2</Priority>', destination: `<Destination><Bucket>arn:minio:replication::site-b:replicas</Bucket><StorageClass>STANDARD_IA</StorageClass></Destination>` }),
    ),
  );
  t.same(configuration, {
    role: 'arn:aws:iam::123456789012:role/replication',
    rules: [
      { id: 'models', enabled: true, form: 'Filter', priority: 5, filter: { prefix: 'models/' }, deleteMarkerReplication: 'Enabled', existingObjectReplication: 'Enabled', destination: { arn: SITE_B } },
      { id: 'gold', enabled: true, form: 'Filter', priority: 4, filter: { tags: { tier: 'gold' } }, deleteMarkerReplication: 'Disabled', destination: { arn: SITE_B } },
      { id: 'generated-1', enabled: false, form: 'Filter', priority: 3, filter: { prefix: 'logs/', tags: { a: '1', b: '' } }, deleteMarkerReplication: 'Disabled', destination: { arn: SITE_B } },
      { id: 'generated-2', enabled: true, form: 'Filter', priority: 2, filter: {}, deleteMarkerReplication: 'Disabled', destination: { arn: 'arn:minio:replication::site-b:replicas', storageClass: 'STANDARD_IA' } },
    ],
  });
  const xml = renderReplication(configuration);
  t.match(xml, '<Filter><And><Prefix>logs/</Prefix><Tag><Key>a</Key><Value>1</Value></Tag><Tag><Key>b</Key><Value></Value></Tag></And></Filter>');
  t.match(xml, '<Filter><Tag><Key>tier</Key><Value>gold</Value></Tag></Filter>');
  t.match(xml, '<Role>arn:aws:iam::123456789012:role/replication</Role>');
  t.same(parse(xml), configuration, 'what GET answers, PUT takes back unchanged');
});

t.test("S3's first schema: a top-level Prefix, no priority and no DeleteMarkerReplication; a Role of any text, or none", async (t) => {
  const legacy = `<ReplicationConfiguration><Rule><ID>old</ID><Prefix>docs/</Prefix><Status>Enabled</Status><Destination><Bucket>${SITE_B}</Bucket></Destination></Rule></ReplicationConfiguration>`;
  const configuration = parse(legacy);
  t.same(configuration, { role: '', rules: [{ id: 'old', enabled: true, form: 'Prefix', filter: { prefix: 'docs/' }, destination: { arn: SITE_B } }] });
  t.match(renderReplication(configuration), '<Prefix>docs/</Prefix>');
  t.same(parse(renderReplication(configuration)), configuration);
  t.throws(() => parse(legacy.replace('<Status>', '<Priority>1</Priority><Status>')), { code: 'InvalidRequest', message: /^Priority cannot be used for this version/ });
  t.throws(() => parse(legacy.replace('</Rule>', '<DeleteMarkerReplication><Status>Enabled</Status></DeleteMarkerReplication></Rule>')), {
    code: 'InvalidRequest',
    message: /^DeleteMarkerReplication cannot be used for this version/,
  });
});

t.test('what S3 refuses is refused with its error code', async (t) => {
  const cases: [string, string, string | RegExp][] = [
    ['not XML', '<ReplicationConfiguration', 'MalformedXML'],
    ['another root', '<VersioningConfiguration/>', 'MalformedXML'],
    ['no rule', doc(), 'MalformedXML'],
    ['an unknown element', doc(rule({ extra: '<Frobnicate/>' })), 'MalformedXML'],
    ['a status other than Enabled or Disabled', doc(rule({ status: 'On' })), 'MalformedXML'],
    ['both a Filter and a top-level Prefix', doc(rule({ filter: '<Filter/><Prefix>a</Prefix>' })), 'MalformedXML'],
    ['a Filter with two conditions outside And', doc(rule({ filter: '<Filter><Prefix>a</Prefix><Tag><Key>k</Key><Value>v</Value></Tag></Filter>' })), 'MalformedXML'],
    ['an And of one condition', doc(rule({ filter: '<Filter><And><Prefix>a</Prefix></And></Filter>' })), 'MalformedXML'],
    ['a priority that is no number', doc(rule({ priority: '<Priority>high</Priority>' })), 'MalformedXML'],
    ['a negative priority', doc(rule({ priority: '<Priority>-1</Priority>' })), 'InvalidRequest'],
    ['a Filter rule without a priority', doc(rule({ priority: '' })), 'InvalidRequest'],
    ['a Filter rule without DeleteMarkerReplication', doc(rule({ markers: '' })), 'InvalidRequest'],
    ['delete markers with a tag filter', doc(rule({ filter: '<Filter><Tag><Key>k</Key><Value>v</Value></Tag></Filter>', markers: '<DeleteMarkerReplication><Status>Enabled</Status></DeleteMarkerReplication>' })), 'InvalidRequest'],
    ['a tag key twice', doc(rule({ filter: '<Filter><And><Tag><Key>k</Key><Value>1</Value></Tag><Tag><Key>k</Key><Value>2</Value></Tag></And></Filter>' })), 'InvalidRequest'],
    ['a reserved tag key', doc(rule({ filter: '<Filter><Tag><Key>aws:x</Key><Value>v</Value></Tag></Filter>' })), 'InvalidTag'],
    ['two rules with one ID', doc(rule({ id: 'same' }), rule({ id: 'same', priority: '<Priority>2</Priority>' })), 'InvalidArgument'],
    ['two rules with one priority for one destination', doc(rule({ id: 'a' }), rule({ id: 'b', filter: '<Filter><Prefix>x/</Prefix></Filter>' })), 'InvalidRequest'],
    ['an ID longer than 255 characters', doc(rule({ id: 'i'.repeat(256) })), 'InvalidArgument'],
    ['a prefix longer than 1024 bytes', doc(rule({ filter: `<Filter><Prefix>${'p'.repeat(1025)}</Prefix></Filter>` })), 'InvalidArgument'],
    ["an S3 bucket ARN, which names no replication target", doc(rule({ destination: '<Destination><Bucket>arn:aws:s3:::replicas</Bucket></Destination>' })), 'InvalidArgument'],
    ["an event target's ARN", doc(rule({ destination: '<Destination><Bucket>arn:tessera:sqs::q:amqp</Bucket></Destination>' })), 'InvalidArgument'],
    ['a destination without a bucket', doc(rule({ destination: '<Destination><StorageClass>STANDARD</StorageClass></Destination>' })), 'MalformedXML'],
    ['an unknown storage class', doc(rule({ destination: `<Destination><Bucket>${SITE_B}</Bucket><StorageClass>COLD</StorageClass></Destination>` })), 'MalformedXML'],
    ['a destination account (AWS accounts only)', doc(rule({ destination: `<Destination><Bucket>${SITE_B}</Bucket><Account>123456789012</Account></Destination>` })), 'NotImplemented'],
    ['replication time control', doc(rule({ destination: `<Destination><Bucket>${SITE_B}</Bucket><ReplicationTime><Status>Enabled</Status></ReplicationTime></Destination>` })), 'NotImplemented'],
    ['source selection criteria (SSE-KMS)', doc(rule({ extra: '<SourceSelectionCriteria><SseKmsEncryptedObjects><Status>Enabled</Status></SseKmsEncryptedObjects></SourceSelectionCriteria>' })), 'NotImplemented'],
  ];
  for (const [what, body, code] of cases) t.throws(() => parse(body), { code }, what);
  t.throws(() => parse(doc(rule({ priority: '<Priority>-1</Priority>' }))), { message: 'Priority must be between 0 and 2147483647.' });
  t.throws(() => parse(doc(rule({ id: 'a' }), rule({ id: 'b' }))), { message: 'Found duplicate priority 1.' });
  t.throws(() => parse(doc(rule({ destination: '<Destination><Bucket>arn:aws:s3:::replicas</Bucket></Destination>' }))), { message: 'Invalid bucket ARN.' });
});

t.test('one priority may serve rules of different destinations: each destination is decided on its own', async (t) => {
  const other = '<Destination><Bucket>arn:tessera:replication::site-c:copies</Bucket></Destination>';
  const configuration = parse(doc(rule({ id: 'to-b' }), rule({ id: 'to-c', destination: other })));
  t.same(configuration.rules.map((r) => [r.id, r.priority, r.destination.arn]), [['to-b', 1, SITE_B], ['to-c', 1, 'arn:tessera:replication::site-c:copies']]);
});

t.test('at most 1,000 rules', async (t) => {
  const many = (count: number): string => doc(...Array.from({ length: count }, (_, i) => rule({ id: `r${i}`, priority: `<Priority>${i}</Priority>` })));
  t.equal(parse(many(1000)).rules.length, 1000);
  t.throws(() => parse(many(1001)), { code: 'InvalidRequest', message: /must not exceed the allowed limit of 1000 rules/ });
});

t.test('a configuration names at most 100 destinations, so that every change note has room for the destinations its rules select', async (t) => {
  const to = (n: number): string => `<Destination><Bucket>arn:tessera:replication::site-${n}:copies</Bucket></Destination>`;
  const hundred = Array.from({ length: 100 }, (_, n) => rule({ id: `r${n}`, destination: to(n) }));
  t.equal(parse(doc(...hundred)).rules.length, 100, '100 destinations are taken');
  t.throws(() => parse(doc(...hundred, rule({ id: 'r100', destination: to(100) }))), { code: 'InvalidRequest', message: 'A replication configuration names at most 100 destinations.' });
  t.equal(parse(doc(...hundred, rule({ id: 'r100', priority: '<Priority>2</Priority>', destination: to(0) }))).rules.length, 101, 'more rules for the same destinations are taken');
});
