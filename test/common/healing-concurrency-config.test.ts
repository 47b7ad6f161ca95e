import { t } from 'tap';
import { ConfigError, DEFAULTS, knownEnvVars, parseNodeConfig } from '../../src/common/index.js';
import { DEFAULT_AUDIT_CONCURRENCY } from '../../src/storage-node/workers/audit-worker.js';
import { DEFAULT_HEALING_CONFIG } from '../../src/storage-node/workers/healing.js';
import { DEFAULT_REPAIR_CONCURRENCY } from '../../src/storage-node/workers/repair-worker.js';

const BASE = { dataDir: '/tmp/tessera-node', clusterSecret: 'a-cluster-secret-long-enough' };

t.test('repair and audit concurrency default to the workers\' own defaults', async (t) => {
  const { healing } = parseNodeConfig(BASE);
  t.equal(healing.repairConcurrency, DEFAULT_REPAIR_CONCURRENCY, 'repair: 4 at once');
  t.equal(healing.auditConcurrency, DEFAULT_AUDIT_CONCURRENCY, 'audit: 8 partitions at once');
  t.equal(DEFAULTS.repairConcurrency, DEFAULT_REPAIR_CONCURRENCY);
  t.equal(DEFAULT_HEALING_CONFIG.repairConcurrency, DEFAULTS.repairConcurrency, 'a node built without a parsed config gets the same');
  t.equal(DEFAULT_HEALING_CONFIG.auditConcurrency, DEFAULTS.auditConcurrency);
});

t.test('TESSERA_REPAIR_CONCURRENCY and TESSERA_AUDIT_CONCURRENCY override the file', async (t) => {
  for (const name of ['TESSERA_REPAIR_CONCURRENCY', 'TESSERA_AUDIT_CONCURRENCY']) t.ok(knownEnvVars().has(name), `${name} is a known variable`);
  const { healing } = parseNodeConfig({ ...BASE, healing: { repairConcurrency: 2, auditConcurrency: 2 } }, { TESSERA_REPAIR_CONCURRENCY: '6', TESSERA_AUDIT_CONCURRENCY: '3' });
  t.match(healing, { repairConcurrency: 6, auditConcurrency: 3 });
  t.match(parseNodeConfig({ ...BASE, healing: { repairConcurrency: 2, auditConcurrency: 5 } }).healing, { repairConcurrency: 2, auditConcurrency: 5 });
});

t.test('a concurrency of 0, above 64 or not an integer is refused', async (t) => {
  t.throws(() => parseNodeConfig(BASE, { TESSERA_REPAIR_CONCURRENCY: '0' }), ConfigError);
  t.throws(() => parseNodeConfig(BASE, { TESSERA_AUDIT_CONCURRENCY: '65' }), ConfigError);
  t.throws(() => parseNodeConfig({ ...BASE, healing: { auditConcurrency: 1.5 } }), ConfigError);
});
