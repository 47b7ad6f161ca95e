import { t } from 'tap';
import type { ObjectRecord } from '../../../src/rpc/index.js';
import { failedDeleteCondition, parseDeleteConditions } from '../../../src/gateway/s3/index.js';

const MODIFIED_MS = Date.UTC(2026, 0, 10, 12, 0, 0, 750);
const record = { etag: '"abc"', lastModifiedMs: MODIFIED_MS, sizeBytes: 12 } as ObjectRecord;
const HEADERS = { lastModified: 'x-amz-if-match-last-modified-time', size: 'x-amz-if-match-size' };
const sent = (fields: Partial<Record<'ifMatch' | 'lastModified' | 'size', string>>) => ({ ifMatch: undefined, lastModified: undefined, size: undefined, ...fields });

t.test('no condition sent is no conditional delete', async (t) => {
  t.equal(parseDeleteConditions(sent({}), HEADERS), undefined);
});

t.test('a time is read as an HTTP date or ISO 8601 and compared in whole seconds', async (t) => {
  const http = parseDeleteConditions(sent({ lastModified: 'Sat, 10 Jan 2026 12:00:00 GMT' }), HEADERS);
  const iso = parseDeleteConditions(sent({ lastModified: '2026-01-10T12:00:00.000Z' }), HEADERS);
  t.same(http, iso, 'the same second either way');
  t.equal(failedDeleteCondition(http ?? {}, record), undefined, 'the record\'s milliseconds do not count');
  const other = parseDeleteConditions(sent({ lastModified: '2026-01-10T12:00:01Z' }), HEADERS);
  t.equal(failedDeleteCondition(other ?? {}, record), 'x-amz-if-match-last-modified-time');
});

t.test('a condition that cannot be read is InvalidArgument naming it, never dropped', async (t) => {
  for (const [fields, name] of [
    [{ size: '-1' }, 'x-amz-if-match-size'],
    [{ size: '1.5' }, 'x-amz-if-match-size'],
    [{ size: '' }, 'x-amz-if-match-size'],
    [{ lastModified: '2026-02-31T00:00:00Z' }, 'x-amz-if-match-last-modified-time'],
    [{ lastModified: '0' }, 'x-amz-if-match-last-modified-time'],
    [{ ifMatch: ' ' }, 'If-Match'],
  ] as const) {
    t.throws(() => parseDeleteConditions(sent(fields), HEADERS), { code: 'InvalidArgument', fields: { ArgumentName: name } }, JSON.stringify(fields));
  }
  t.throws(() => parseDeleteConditions(sent({ size: 'x' }), { lastModified: 'LastModifiedTime', size: 'Size' }), { code: 'InvalidArgument', fields: { ArgumentName: 'Size' } }, 'a DeleteObjects entry names its element');
});

t.test('If-Match needs a current version; size and time hold for a missing one', async (t) => {
  t.equal(failedDeleteCondition({ ifMatch: '*' }, null), 'NoSuchKey');
  t.equal(failedDeleteCondition({ sizeBytes: 3 }, null), undefined);
  t.equal(failedDeleteCondition({ ifMatch: '*' }, record), undefined);
  t.equal(failedDeleteCondition({ ifMatch: '"abd", abc' }, record), undefined, 'a list with the ETag, quoted or not');
  t.equal(failedDeleteCondition({ ifMatch: '"abd"' }, record), 'If-Match');
  t.equal(failedDeleteCondition({ ifMatch: '"abc"', sizeBytes: 11 }, record), 'x-amz-if-match-size', 'every condition must hold');
});
