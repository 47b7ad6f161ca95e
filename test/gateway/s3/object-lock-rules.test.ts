import { t } from 'tap';
import { lockHold } from '../../../src/rpc/index.js';
import { defaultRetentionAt, parseLockHeaders, parseObjectLockXml, parseRetentionXml, retentionChange } from '../../../src/gateway/s3/index.js';

/** Object Lock's pure rules at their edges: the instant retention ends, calendar years, and what may change. */

const NOW = Date.UTC(2024, 1, 29, 12, 0, 0);

t.test('a version is held until the instant its retain-until date passes; a legal hold and COMPLIANCE ignore the bypass', async (t) => {
  t.equal(lockHold({ retention: { mode: 'COMPLIANCE', retainUntilMs: NOW + 1 } }, NOW), 'COMPLIANCE');
  t.equal(lockHold({ retention: { mode: 'COMPLIANCE', retainUntilMs: NOW } }, NOW), null, 'released at the date itself');
  t.equal(lockHold({ retention: { mode: 'COMPLIANCE', retainUntilMs: NOW + 1 } }, NOW, true), 'COMPLIANCE');
  t.equal(lockHold({ retention: { mode: 'GOVERNANCE', retainUntilMs: NOW + 1 } }, NOW, true), null);
  t.equal(lockHold({ retention: { mode: 'GOVERNANCE', retainUntilMs: NOW - 1 }, legalHold: true }, NOW, true), 'legal-hold');
  t.equal(lockHold({ legalHold: false }, NOW), null);
  t.equal(lockHold({}, NOW), null);
});

t.test('retention is extended in its own mode by anyone, shortened or changed only in GOVERNANCE with the bypass, freely once expired', async (t) => {
  const running = (mode: 'GOVERNANCE' | 'COMPLIANCE') => ({ mode, retainUntilMs: NOW + 1000 });
  t.equal(retentionChange(undefined, { mode: 'COMPLIANCE', retainUntilMs: NOW + 1 }, NOW), 'allowed');
  t.equal(retentionChange(running('COMPLIANCE'), { mode: 'COMPLIANCE', retainUntilMs: NOW + 1000 }, NOW), 'allowed', 'the same date');
  t.equal(retentionChange(running('COMPLIANCE'), { mode: 'COMPLIANCE', retainUntilMs: NOW + 999 }, NOW), 'refused');
  t.equal(retentionChange(running('COMPLIANCE'), { mode: 'GOVERNANCE', retainUntilMs: NOW + 5000 }, NOW), 'refused');
  t.equal(retentionChange(running('COMPLIANCE'), null, NOW), 'refused');
  t.equal(retentionChange(running('GOVERNANCE'), { mode: 'GOVERNANCE', retainUntilMs: NOW + 2000 }, NOW), 'allowed');
  t.equal(retentionChange(running('GOVERNANCE'), { mode: 'GOVERNANCE', retainUntilMs: NOW + 1 }, NOW), 'needs-bypass');
  t.equal(retentionChange(running('GOVERNANCE'), { mode: 'COMPLIANCE', retainUntilMs: NOW + 5000 }, NOW), 'needs-bypass');
  t.equal(retentionChange(running('GOVERNANCE'), null, NOW), 'needs-bypass');
  t.equal(retentionChange(running('COMPLIANCE'), null, NOW + 1000), 'allowed', 'expired retention is no constraint');
});

t.test('default retention: days of 24 hours, calendar years (a leap day lands on 1 March)', async (t) => {
  t.same(defaultRetentionAt({ defaultRetention: { mode: 'GOVERNANCE', days: 2 } }, NOW), { mode: 'GOVERNANCE', retainUntilMs: NOW + 2 * 86_400_000 });
  t.same(defaultRetentionAt({ defaultRetention: { mode: 'COMPLIANCE', years: 1 } }, NOW), { mode: 'COMPLIANCE', retainUntilMs: Date.UTC(2025, 2, 1, 12, 0, 0) });
  t.equal(defaultRetentionAt({}, NOW), undefined);
  t.equal(defaultRetentionAt(undefined, NOW), undefined);
});

t.test('lock headers and documents accept what S3 clients send: offsets, fractions, namespaces, an empty Retention', async (t) => {
  const headers = (values: Record<string, string>) => parseLockHeaders((name) => values[name], NOW);
  t.same(headers({ 'x-amz-object-lock-mode': 'GOVERNANCE', 'x-amz-object-lock-retain-until-date': '2024-03-01T00:00:00.123456+02:00' }).retention, { mode: 'GOVERNANCE', retainUntilMs: Date.parse('2024-03-01T00:00:00.123+02:00') });
  t.same(headers({}), { present: false });
  t.same(headers({ 'x-amz-object-lock-legal-hold': 'OFF' }), { present: true, legalHold: false });
  t.throws(() => headers({ 'x-amz-object-lock-legal-hold': 'on' }), { code: 'InvalidArgument' }, 'ON and OFF are case-sensitive');
  t.equal(parseRetentionXml('<?xml version="1.0" encoding="UTF-8"?>\n<Retention xmlns="http://s3.amazonaws.com/doc/2006-03-01/"/>', NOW), null);
  t.equal(parseRetentionXml('<Retention></Retention>', NOW), null);
  t.same(parseRetentionXml('<Retention xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Mode>COMPLIANCE</Mode><RetainUntilDate>2030-01-01T00:00:00Z</RetainUntilDate></Retention>', NOW), { mode: 'COMPLIANCE', retainUntilMs: Date.UTC(2030, 0, 1) });
  t.same(parseObjectLockXml('<ObjectLockConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>GOVERNANCE</Mode><Years>100</Years></DefaultRetention></Rule></ObjectLockConfiguration>'), { defaultRetention: { mode: 'GOVERNANCE', years: 100 } });
  t.same(parseObjectLockXml('<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled></ObjectLockConfiguration>'), {});
});
