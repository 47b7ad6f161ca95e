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

t.test('request XML decodes a reference to any character a key can hold, control characters included', async (t) => {
  const key = (text: string) => (parseXml(`<Delete><Object><Key>${text}</Key></Object></Delete>`) as { Delete: { Object: { Key: string } } }).Delete.Object.Key;
  t.equal(key('a&#x1;b'), 'a\u0001b', 'as S3 lists it');
  t.equal(key('a&#1;b&#x1F;c'), 'a\u0001b\u001Fc');
  t.equal(key('a&#xD;b&#13;c&#x0D;d'), 'a\rb\rc\rd', 'CR, as the SDKs write it');
  t.equal(key('a&#x7F;b&#x85;c&#xFFFE;d&#xFFFF;e&#x10FFFF;f&#x1F600;g'), 'a\u007Fb\u0085c\uFFFEd\uFFFFe\u{10FFFF}f\u{1F600}g');
  t.equal(key('&lt;&gt;&amp;&quot;&apos;'), '<>&"\'', 'the five entities XML defines');
  t.equal(key('<![CDATA[a&#x1;b]]>'), 'a&#x1;b', 'CDATA is not decoded');
});

t.test('request XML refuses a reference to a character no key can hold, or to an undeclared entity', async (t) => {
  for (const reference of ['&#0;', '&#x0;', '&#x00;', '&#xD800;', '&#xDFFF;', '&#55296;', '&#x110000;', '&#1114112;', '&#x1000000000;', '&#99999999999999999999;', '&nbsp;', '&copy;', '&e;', '&#;', '&#x;']) {
    t.throws(() => parseXml(`<Delete><Object><Key>a${reference}b</Key></Object></Delete>`), reference);
  }
  t.throws(() => parseXml('<!DOCTYPE d [<!ENTITY e "x">]><Delete><Object><Key>&e;</Key></Object></Delete>'), 'an entity the document declares');
});
