import { t } from 'tap';
import { afterDays, currentExpiry, lifecycleFilterMatches, noncurrentRules, removesExpiredMarker, uploadAbortDate, type LifecycleRule } from '../../src/rpc/index.js';

/** The rule arithmetic gateways (announced dates) and nodes (the worker) share. */

const DAY = 86_400_000;
const rule = (fields: Partial<LifecycleRule>): LifecycleRule => ({ id: 'r', enabled: true, form: 'Filter', filter: {}, ...fields });

t.test('days count from the write and round up to the start of the next day, whatever a day lasts', async (t) => {
  const written = Date.parse('2026-03-10T15:30:00Z');
  t.equal(afterDays(written, 1, DAY), Date.parse('2026-03-12T00:00:00Z'));
  t.equal(afterDays(Date.parse('2026-03-10T00:00:00Z'), 1, DAY), Date.parse('2026-03-11T00:00:00Z'), 'a write at midnight expires exactly days later');
  t.equal(afterDays(12_345, 2, 1_000), 15_000, 'a one-second day');
});

t.test('filters: prefix, every tag, strict size bounds', async (t) => {
  const subject = { key: 'logs/a', tags: { env: 'dev', team: 'ml' }, sizeBytes: 100 };
  t.ok(lifecycleFilterMatches({}, subject), 'an empty filter selects everything');
  t.ok(lifecycleFilterMatches({ prefix: 'logs/', tags: { env: 'dev' } }, subject));
  t.notOk(lifecycleFilterMatches({ tags: { env: 'dev', owner: 'x' } }, subject), 'every tag must be present');
  t.notOk(lifecycleFilterMatches({ tags: { env: 'prod' } }, subject), 'with its value');
  t.notOk(lifecycleFilterMatches({ sizeGreaterThan: 100 }, subject), 'greater than is strict');
  t.notOk(lifecycleFilterMatches({ sizeLessThan: 100 }, subject), 'less than is strict');
  t.ok(lifecycleFilterMatches({ sizeGreaterThan: 99, sizeLessThan: 101 }, subject));
});

t.test('the earliest enabled rule decides an expiry; disabled rules and other actions do not', async (t) => {
  const written = Date.parse('2026-03-10T15:30:00Z');
  const rules = [
    rule({ id: 'late', expiration: { days: 10 } }),
    rule({ id: 'date', expiration: { dateMs: Date.parse('2026-03-13T00:00:00Z') } }),
    rule({ id: 'off', enabled: false, expiration: { days: 1 } }),
    rule({ id: 'markers', expiration: { expiredObjectDeleteMarker: true } }),
    rule({ id: 'other', filter: { prefix: 'x/' }, expiration: { days: 1 } }),
  ];
  t.same(currentExpiry(rules, { key: 'k', sizeBytes: 1 }, written, DAY), { atMs: Date.parse('2026-03-13T00:00:00Z'), ruleId: 'date' });
  t.equal(currentExpiry(rules.slice(2), { key: 'k', sizeBytes: 1 }, written, DAY), undefined);
  t.ok(removesExpiredMarker(rules, { key: 'k', lastModifiedMs: written }, written, DAY));
  t.notOk(removesExpiredMarker([rule({ expiration: { expiredObjectDeleteMarker: false } })], { key: 'k', lastModifiedMs: written }, written, DAY));
  t.same(noncurrentRules([rule({ noncurrentExpiration: { noncurrentDays: 3, newerNoncurrentVersions: 2 } })], { key: 'k', sizeBytes: 0 }).map((r) => [r.noncurrentDays, r.keep]), [[3, 2]]);
});

t.test('an upload is selected by prefix alone, and the earliest abort rule wins', async (t) => {
  const initiated = Date.parse('2026-03-10T15:30:00Z');
  const rules = [rule({ id: 'week', abortIncompleteUploadDays: 7 }), rule({ id: 'tmp', filter: { prefix: 'tmp/' }, abortIncompleteUploadDays: 1 })];
  t.same(uploadAbortDate(rules, 'tmp/a', initiated, DAY), { atMs: Date.parse('2026-03-12T00:00:00Z'), ruleId: 'tmp' });
  t.same(uploadAbortDate(rules, 'data/a', initiated, DAY), { atMs: Date.parse('2026-03-18T00:00:00Z'), ruleId: 'week' });
  t.equal(uploadAbortDate([rule({ enabled: false, abortIncompleteUploadDays: 1 })], 'a', initiated, DAY), undefined);
});
