import { t } from 'tap';
import { ConfigError, DEFAULTS, knownEnvVars, parseNodeConfig } from '../../src/common/index.js';

const BASE = { dataDir: '/tmp/tessera-node', clusterSecret: 'a-cluster-secret-long-enough' };

t.test('the collector is on by default with a day of tombstone grace, a week of upload expiry and an hour of settle time', async (t) => {
  const { healing } = parseNodeConfig(BASE);
  t.match(healing, { gc: true, gcTombstoneGraceMs: 24 * 3600_000, gcUploadExpiryMs: 7 * 24 * 3600_000, gcSettleMs: 3600_000, gcIntervalMs: DEFAULTS.gcIntervalMs });
});

t.test('every collector setting has a TESSERA_* variable that overrides the file', async (t) => {
  const env = {
    TESSERA_GC: 'off',
    TESSERA_GC_INTERVAL_MS: '5000',
    TESSERA_GC_KEYS_PER_SECOND: '0',
    TESSERA_GC_TOMBSTONE_GRACE_MS: '600000',
    TESSERA_GC_UPLOAD_EXPIRY_MS: '86400000',
    TESSERA_GC_SETTLE_MS: '60000',
  };
  for (const name of Object.keys(env)) t.ok(knownEnvVars().has(name), `${name} is a known variable`);
  const { healing } = parseNodeConfig({ ...BASE, healing: { gcTombstoneGraceMs: 1 } }, env);
  t.match(healing, { gc: false, gcIntervalMs: 5000, gcKeysPerSecond: 0, gcTombstoneGraceMs: 600_000, gcUploadExpiryMs: 86_400_000, gcSettleMs: 60_000 });
});

t.test('a settle time not below the tombstone grace is refused: closing markers must outlive the wait before their parts go', async (t) => {
  t.throws(() => parseNodeConfig({ ...BASE, healing: { gcSettleMs: 1000, gcTombstoneGraceMs: 1000 } }), ConfigError);
  t.throws(() => parseNodeConfig(BASE, { TESSERA_GC_TOMBSTONE_GRACE_MS: '60000' }), /gcSettleMs .* must be below/);
});
