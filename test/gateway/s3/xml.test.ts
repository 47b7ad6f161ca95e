import { t } from 'tap';
import { parseXml, renderXml } from '../../../src/gateway/s3/index.js';

t.test('request XML decodes numeric character references, as Go clients (rclone, mc) write quotes', async (t) => {
  const body =
    '<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Part>' +
    '<ETag>&#34;d1db1233d14808ad1c6b1c3f30dfff8c&#34;</ETag><PartNumber>1</PartNumber></Part></CompleteMultipartUpload>';
  const parsed = parseXml(body) as { CompleteMultipartUpload: { Part: { ETag: string } } };
  t.equal(parsed.CompleteMultipartUpload.Part.ETag, '"d1db1233d14808ad1c6b1c3f30dfff8c"');
  const keys = parseXml('<Delete><Object><Key>tab&#x9;quote&#39;amp&amp;#34;</Key></Object></Delete>') as { Delete: { Object: { Key: string } } };
  t.equal(keys.Delete.Object.Key, "tab\tquote'amp&#34;", 'each reference is decoded exactly once');
});

t.test('response XML escapes what it must', async (t) => {
  t.match(renderXml('R', { Key: 'a<b>&"c\'' }), /<Key>a&lt;b&gt;&amp;&quot;c&apos;<\/Key>/);
});

t.test('response XML writes CR and characters XML 1.0 forbids as references', async (t) => {
  const xml = renderXml('R', { Key: 'a\rb\r\nc\u0001d\uFFFEe\tf\ng' });
  t.match(xml, /<Key>a&#xD;b&#xD;\nc&#x1;d&#xFFFE;e\tf\ng<\/Key>/);
  t.notOk(/[\r\u0001\uFFFE]/.test(xml), 'none of them raw');
});
