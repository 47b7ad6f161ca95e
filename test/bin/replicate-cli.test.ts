import { t } from 'tap';
import { formatResyncProgress, formatResyncSummary } from '../../src/bin/replicate-cli.js';
import type { ResyncProgress } from '../../src/gateway/index.js';

const MiB = 1024 * 1024;

function progress(overrides: Partial<ResyncProgress>): ResyncProgress {
  return { versionsTotal: 0, bytesTotal: 0, versionsDone: 0, bytesDone: 0, sentVersions: 0, sentBytes: 0, alreadyThere: 0, failed: 0, failedForGood: 0, startedMs: 1_000_000, ...overrides };
}

t.test('the progress line shows versions and bytes done of their totals, the rate so far and the time left', async (t) => {
  const halfway = progress({ versionsTotal: 10, versionsDone: 4, bytesTotal: 200 * MiB, bytesDone: 100 * MiB });
  t.equal(formatResyncProgress(halfway, 1_000_000 + 20_000), '[##########..........] 50% 4/10 versions, 100.0/200.0 MiB, 5.0 MiB/s, 20 s left');
  t.equal(
    formatResyncProgress({ ...halfway, failed: 2 }, 1_000_000 + 20_000),
    '[##########..........] 50% 4/10 versions, 100.0/200.0 MiB, 5.0 MiB/s, 20 s left, 2 failed',
    'failures so far are shown once there are any',
  );
  t.equal(formatResyncProgress(progress({ versionsTotal: 3, bytesTotal: 5 * MiB }), 1_000_000), '[....................] 0% 0/3 versions, 0.0/5.0 MiB, 0.0 MiB/s, time left unknown', 'before anything is done, no time can be told');
  t.equal(
    formatResyncProgress(progress({ versionsTotal: 4, versionsDone: 1 }), 1_000_000 + 1_000),
    '[#####...............] 25% 1/4 versions, 0.0/0.0 MiB, 0.0 MiB/s, time left unknown',
    'with no bytes (delete markers), versions give the fraction',
  );
  t.equal(formatResyncProgress(progress({ versionsTotal: 2, versionsDone: 2, bytesTotal: MiB, bytesDone: MiB }), 1_000_000 + 500), '[####################] 100% 2/2 versions, 1.0/1.0 MiB, 2.0 MiB/s, done');
  t.equal(formatResyncProgress(progress({}), 1_000_000), '[####################] 100% 0/0 versions, 0.0/0.0 MiB, 0.0 MiB/s, done', 'an empty bucket is done at once');
});

t.test('the closing line gives what was sent, in how long, the replication rate, what was there and what failed', async (t) => {
  const done = progress({ versionsTotal: 7, versionsDone: 7, sentVersions: 5, sentBytes: 30 * MiB, alreadyThere: 1, failed: 1, bytesTotal: 31 * MiB, bytesDone: 31 * MiB });
  t.equal(formatResyncSummary('photos', 'site-b', done, 1_000_000 + 12_000), 'resync photos -> site-b: 5 versions (30.0 MiB) sent in 12.0 s, 2.5 MiB/s; 1 already there; 1 failed');
  t.equal(formatResyncSummary('photos', 'site-b', progress({}), 1_000_000), 'resync photos -> site-b: 0 versions (0.0 MiB) sent in 0.0 s, 0.0 MiB/s; 0 already there; 0 failed');
});
