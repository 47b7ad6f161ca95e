import { t } from 'tap';
import type { ObjectRecord } from '../../../src/rpc/index.js';
import { failedCondition, type Conditions } from '../../../src/gateway/s3/index.js';

const MODIFIED_MS = Date.UTC(2026, 0, 10, 12, 0, 0);
const record = { etag: '"abc"', lastModifiedMs: MODIFIED_MS } as ObjectRecord;
const none: Conditions = { ifMatch: undefined, ifNoneMatch: undefined, ifModifiedSince: undefined, ifUnmodifiedSince: undefined };
const notModified = { name: 'If-Modified-Since', notModified: true };

t.test('an If-Modified-Since later than the given current time is ignored', async (t) => {
  const since = { ...none, ifModifiedSince: 'Mon, 12 Jan 2026 00:00:00 GMT' };
  t.same(failedCondition(since, record, Date.UTC(2026, 0, 11)), undefined, 'a day before that date, it is in the future: ignored');
  t.same(failedCondition(since, record, Date.UTC(2026, 0, 13)), notModified, 'a day after it, the object was not modified since');
  t.same(failedCondition(since, record, Date.UTC(2026, 0, 12)), notModified, 'at that very second it is not in the future');
  t.same(failedCondition(since, record, undefined), notModified, 'without a current time every valid date counts');
});

t.test('other conditions do not depend on the current time', async (t) => {
  const nowMs = Date.UTC(2026, 0, 11);
  t.same(failedCondition({ ...none, ifModifiedSince: 'Sat, 10 Jan 2026 11:00:00 GMT' }, record, nowMs), undefined, 'modified since an earlier date');
  t.same(failedCondition({ ...none, ifUnmodifiedSince: 'Sat, 10 Jan 2026 11:00:00 GMT' }, record, nowMs), { name: 'If-Unmodified-Since', notModified: false });
  t.same(failedCondition({ ...none, ifUnmodifiedSince: 'Mon, 12 Jan 2026 00:00:00 GMT' }, record, nowMs), undefined, 'a future If-Unmodified-Since holds as before');
  t.same(failedCondition({ ...none, ifNoneMatch: '"abc"', ifModifiedSince: 'Mon, 12 Jan 2026 00:00:00 GMT' }, record, nowMs), { name: 'If-None-Match', notModified: true });
});
