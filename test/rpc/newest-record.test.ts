import { t } from 'tap';
import { formatVersionId } from '../../src/common/index.js';
import { isNewerRecord, isNewerVersion, newestByName, newestRecord, type RecordOrder } from '../../src/rpc/index.js';

const v = (physicalMs: number, logical = 0, writerId = '00000000'): string => formatVersionId(physicalMs, logical, writerId);

t.test('the newer version wins, whatever the tag revisions say', async (t) => {
  const older: RecordOrder = { versionId: v(1_000), tagsRevision: v(9_000) };
  const newer: RecordOrder = { versionId: v(2_000) };
  t.ok(isNewerRecord(newer, older));
  t.notOk(isNewerRecord(older, newer));
  t.ok(isNewerVersion(v(1_000, 1), v(1_000, 0)), 'the logical counter orders ids of one millisecond');
  t.ok(isNewerVersion(v(0x1_0000_0000), v(0xffff_ffff)), 'fixed width: more digits of wall clock do not sort first by accident');
});

t.test('between copies of one version, the newer tag revision wins', async (t) => {
  const stale: RecordOrder = { versionId: v(1_000), tagsRevision: v(1_500) };
  const fresh: RecordOrder = { versionId: v(1_000), tagsRevision: v(1_600) };
  t.ok(isNewerRecord(fresh, stale));
  t.notOk(isNewerRecord(stale, fresh));
});

t.test('equal records: neither is newer, and the first one seen stays', async (t) => {
  const a: RecordOrder = { versionId: v(1_000), tagsRevision: v(1_500) };
  const b: RecordOrder = { versionId: v(1_000), tagsRevision: v(1_500) };
  t.notOk(isNewerRecord(a, b));
  t.notOk(isNewerRecord(b, a));
  t.notOk(isNewerVersion(a.versionId, b.versionId));
  t.equal(newestRecord([a, b]), a);
  t.equal(newestRecord([b, a]), b);
});

t.test('a missing tag revision is older than any', async (t) => {
  const untagged: RecordOrder = { versionId: v(1_000) };
  const tagged: RecordOrder = { versionId: v(1_000), tagsRevision: v(1_200) };
  t.ok(isNewerRecord(tagged, untagged));
  t.notOk(isNewerRecord(untagged, tagged));
  t.notOk(isNewerRecord(untagged, { versionId: v(1_000) }), 'two untagged copies are equal');
});

t.test('newestRecord picks across copies and skips absent answers', async (t) => {
  const first: RecordOrder = { versionId: v(1_000) };
  const retagged: RecordOrder = { versionId: v(1_000), tagsRevision: v(1_100) };
  const latest: RecordOrder = { versionId: v(3_000) };
  t.equal(newestRecord([null, first, undefined, retagged]), retagged);
  t.equal(newestRecord([first, latest, retagged, null]), latest);
  t.equal(newestRecord([null, undefined]), undefined);
  t.equal(newestRecord([]), undefined);
  const buckets = [
    { name: 'b', versionId: v(5_000), createdMs: 1, deleted: false },
    { name: 'b', versionId: v(6_000), createdMs: 1, deleted: true },
  ];
  t.equal(newestRecord(buckets), buckets[1], 'bucket records, without tag revisions, order by version');
});

t.test('newestByName keeps the newest record of each name across every node answer', async (t) => {
  const stale = { name: 'a', versionId: v(1_000), deleted: false };
  const removed = { name: 'a', versionId: v(2_000), deleted: true };
  const other = { name: 'b', versionId: v(1_500), deleted: false };
  const twin = { name: 'b', versionId: v(1_500), deleted: false };
  const newest = newestByName([[stale, other], [], [removed, twin]]);
  t.same([...newest.keys()], ['a', 'b'], 'in the order names were first seen');
  t.equal(newest.get('a'), removed, 'a node that missed the delete does not bring the name back');
  t.equal(newest.get('b'), other, 'of equal copies the first seen stays');
  t.equal(newestByName([]).size, 0);
});

t.test('copies of one version that differ only in replication status: the settled one wins', async (t) => {
  const pending: RecordOrder = { versionId: v(1_000), tagsRevision: v(1_100), replicationStatus: 'PENDING' };
  const failed: RecordOrder = { versionId: v(1_000), tagsRevision: v(1_100), replicationStatus: 'FAILED' };
  const completed: RecordOrder = { versionId: v(1_000), tagsRevision: v(1_100), replicationStatus: 'COMPLETED' };
  t.equal(newestRecord([pending, failed, completed]), completed);
  t.equal(newestRecord([completed, pending, failed]), completed);
  t.equal(newestRecord([pending, failed]), failed);
  t.notOk(isNewerRecord(pending, completed));
  const retagged: RecordOrder = { versionId: v(1_000), tagsRevision: v(1_200), replicationStatus: 'PENDING' };
  t.equal(newestRecord([completed, retagged]), retagged, 'a newer tag revision still wins over a settled status');
  const newer: RecordOrder = { versionId: v(2_000), replicationStatus: 'PENDING' };
  t.equal(newestRecord([completed, newer]), newer, 'a newer version wins whatever its status');
  const replica: RecordOrder = { versionId: v(1_000), replicationStatus: 'REPLICA' };
  t.notOk(isNewerRecord(replica, { versionId: v(1_000), replicationStatus: 'REPLICA' }), 'two replica copies are equal');
});
