import { t } from 'tap';
import { parseNotificationXml, renderNotification } from '../../../src/gateway/s3/index.js';
import { eventMatches } from '../../../src/rpc/index.js';

const NS = 'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"';
const ids = (): (() => string) => {
  let n = 0;
  return () => `generated-${(n += 1)}`;
};
const queue = (events: string[], filter = '', id = ''): string =>
  `<QueueConfiguration>${id === '' ? '' : `<Id>${id}</Id>`}<Queue>arn:tessera:sqs::q:amqp</Queue>${events.map((e) => `<Event>${e}</Event>`).join('')}${filter}</QueueConfiguration>`;
const filter = (rules: [string, string][]): string =>
  `<Filter><S3Key>${rules.map(([name, value]) => `<FilterRule><Name>${name}</Name><Value>${value}</Value></FilterRule>`).join('')}</S3Key></Filter>`;
const doc = (...configs: string[]): string => `<NotificationConfiguration ${NS}>${configs.join('')}</NotificationConfiguration>`;

t.test('an empty document means no configurations, whichever way it is written', async (t) => {
  t.same(parseNotificationXml(`<NotificationConfiguration ${NS}/>`, ids()), []);
  t.same(parseNotificationXml(doc(), ids()), []);
});

t.test('a configuration keeps its Id, ARN, events and filter, and renders back as S3 answers it', async (t) => {
  const rules = parseNotificationXml(doc(queue(['s3:ObjectCreated:*'], filter([['prefix', 'in/'], ['SUFFIX', '.csv']]), 'c1'), queue(['s3:ObjectRemoved:*'])), ids());
  t.same(rules, [
    { id: 'c1', kind: 'Queue', arn: 'arn:tessera:sqs::q:amqp', events: ['s3:ObjectCreated:*'], prefix: 'in/', suffix: '.csv' },
    { id: 'generated-1', kind: 'Queue', arn: 'arn:tessera:sqs::q:amqp', events: ['s3:ObjectRemoved:*'] },
  ]);
  const xml = renderNotification(rules);
  t.match(xml, '<FilterRule><Name>Prefix</Name><Value>in/</Value></FilterRule><FilterRule><Name>Suffix</Name><Value>.csv</Value></FilterRule>');
  t.same(parseNotificationXml(xml, ids()), rules, 'what GET answers, PUT takes back unchanged');
});

t.test('functions and EventBridge are refused: Tessera has neither', async (t) => {
  t.throws(() => parseNotificationXml(doc('<CloudFunctionConfiguration><CloudFunction>arn:aws:lambda:us-east-1:1:function:f</CloudFunction><Event>s3:ObjectCreated:*</Event></CloudFunctionConfiguration>'), ids()), {
    code: 'InvalidArgument',
    message: 'Unable to validate the following destination configurations',
  });
  t.throws(() => parseNotificationXml(doc('<EventBridgeConfiguration/>'), ids()), { code: 'InvalidArgument' });
  t.throws(() => parseNotificationXml(doc('<Something/>'), ids()), { code: 'MalformedXML' });
});

t.test('overlap needs a common event type and a key both filters pass', async (t) => {
  const refuses = (...configs: string[]): boolean => {
    try {
      parseNotificationXml(doc(...configs), ids());
      return false;
    } catch (err) {
      return (err as { code?: string }).code === 'InvalidArgument';
    }
  };
  t.ok(refuses(queue(['s3:ObjectCreated:*']), queue(['s3:ObjectCreated:Put'])), 'a family covers its members');
  t.ok(refuses(queue(['s3:ObjectCreated:Put'], filter([['suffix', '.jpg']])), queue(['s3:ObjectCreated:Put'], filter([['suffix', 'a.jpg']]))), 'one suffix ends the other');
  t.notOk(refuses(queue(['s3:ObjectCreated:Put'], filter([['suffix', '.jpg']])), queue(['s3:ObjectCreated:Put'], filter([['suffix', '.png']]))), 'disjoint suffixes');
  t.notOk(refuses(queue(['s3:ObjectCreated:Put']), queue(['s3:ObjectCreated:Copy'])), 'different events of one family');
  t.notOk(refuses(queue(['s3:ObjectTagging:*']), queue(['s3:ObjectRemoved:*'])), 'different families');
});

t.test('bounds: configurations, Ids, filter values, and one prefix and suffix rule per filter', async (t) => {
  const many = Array.from({ length: 101 }, (_, i) => queue(['s3:ObjectCreated:*'], filter([['prefix', `p${i}/`]])));
  t.throws(() => parseNotificationXml(doc(...many), ids()), { code: 'InvalidArgument' }, '101 configurations');
  t.throws(() => parseNotificationXml(doc(queue(['s3:ObjectCreated:*'], '', 'x'.repeat(256))), ids()), { code: 'InvalidArgument' });
  t.throws(() => parseNotificationXml(doc(queue(['s3:ObjectCreated:*'], filter([['prefix', 'x'.repeat(1025)]]))), ids()), { code: 'InvalidArgument' });
  t.throws(() => parseNotificationXml(doc(queue(['s3:ObjectCreated:*'], filter([['suffix', 'a'], ['suffix', 'b']]))), ids()), { code: 'InvalidArgument', message: /more than one suffix/ });
  t.throws(() => parseNotificationXml(doc(queue(['s3:ObjectCreated:*'], filter([['middle', 'a']]))), ids()), { code: 'InvalidArgument' });
  t.throws(() => parseNotificationXml(doc(queue([])), ids()), { code: 'InvalidArgument' }, 'no event');
  t.throws(() => parseNotificationXml(doc(queue(['s3:ObjectRestore:*'])), ids()), { code: 'InvalidArgument' }, 'no archive tier, no restore events');
  t.throws(() => parseNotificationXml('<NotificationConfiguration><QueueConfiguration>', ids()), { code: 'MalformedXML' });
});

t.test('event names match exactly or by their family wildcard', async (t) => {
  t.ok(eventMatches('s3:ObjectCreated:*', 's3:ObjectCreated:Put'));
  t.ok(eventMatches('s3:ObjectRemoved:Delete', 's3:ObjectRemoved:Delete'));
  t.notOk(eventMatches('s3:ObjectRemoved:Delete', 's3:ObjectRemoved:DeleteMarkerCreated'));
  t.notOk(eventMatches('s3:Object*', 's3:ObjectCreated:Put'), 'only a whole family is a wildcard');
});
