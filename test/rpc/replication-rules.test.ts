import { t } from 'tap';
import { matchingReplicationRules, replicatesDeleteMarkers, type ReplicationConfiguration, type ReplicationRule } from '../../src/rpc/index.js';

const SITE_B = 'arn:tessera:replication::site-b:replicas';
const SITE_C = 'arn:tessera:replication::site-c:copies';

function rule(id: string, fields: Partial<ReplicationRule>): ReplicationRule {
  return { id, enabled: true, form: 'Filter', priority: 0, filter: {}, deleteMarkerReplication: 'Disabled', destination: { arn: SITE_B }, ...fields };
}

function decided(configuration: ReplicationConfiguration | undefined, key: string, tags?: Record<string, string>): [string, string, boolean][] {
  return matchingReplicationRules(configuration, { key, tags }).map((match) => [match.arn, match.rule.id, match.deleteMarkers]);
}

t.test('of the enabled rules whose filter selects a key, the one of greatest priority decides', async (t) => {
  const configuration: ReplicationConfiguration = {
    role: '',
    rules: [
      rule('everything', { priority: 1 }),
      rule('models', { priority: 5, filter: { prefix: 'models/' }, deleteMarkerReplication: 'Enabled' }),
      rule('paused', { priority: 9, filter: { prefix: 'models/' }, enabled: false }),
    ],
  };
  t.same(decided(configuration, 'models/a.bin'), [[SITE_B, 'models', true]], 'the higher priority wins; a disabled rule never does');
  t.same(decided(configuration, 'data/x'), [[SITE_B, 'everything', false]], 'only the catch-all selects it');
  t.same(decided({ role: '', rules: [rule('models', { filter: { prefix: 'models/' } })] }, 'data/x'), [], 'no rule selects it: it is not replicated');
  t.same(decided(undefined, 'any'), [], 'a bucket without a configuration replicates nothing');
});

t.test('a tag filter needs every tag with its exact value; a prefix is compared as text, not as a pattern', async (t) => {
  const configuration: ReplicationConfiguration = {
    role: '',
    rules: [
      rule('tagged', { priority: 2, filter: { prefix: 'a.b*', tags: { tier: 'gold', team: 'ml' } } }),
      rule('fallback', { priority: 1, filter: { prefix: 'a.b' } }),
    ],
  };
  t.same(decided(configuration, 'a.b*/1', { tier: 'gold', team: 'ml', extra: 'x' }), [[SITE_B, 'tagged', false]]);
  t.same(decided(configuration, 'a.b*/1', { tier: 'gold' }), [[SITE_B, 'fallback', false]], 'a missing tag fails the filter');
  t.same(decided(configuration, 'a.b*/1', { tier: 'GOLD', team: 'ml' }), [[SITE_B, 'fallback', false]], 'values are compared exactly');
  t.same(decided(configuration, 'aXb/1', { tier: 'gold', team: 'ml' }), [], '. and * are no wildcards');
  t.same(decided(configuration, 'a.b*/1'), [[SITE_B, 'fallback', false]], 'a delete marker has no tags: tag rules never decide it');
  t.same(decided({ role: '', rules: [rule('t', { filter: { tags: { constructor: '' } } })] }, 'k', {}), [], 'a tag named like an Object property is not found on an empty set');
});

t.test('each destination is decided by its own rules, in the order destinations first appear', async (t) => {
  const configuration: ReplicationConfiguration = {
    role: '',
    rules: [
      rule('c-all', { priority: 3, destination: { arn: SITE_C }, deleteMarkerReplication: 'Enabled' }),
      rule('b-low', { priority: 1 }),
      rule('b-high', { priority: 2, filter: { prefix: 'logs/' } }),
    ],
  };
  t.same(decided(configuration, 'logs/1'), [
    [SITE_C, 'c-all', true],
    [SITE_B, 'b-high', false],
  ]);
  t.same(decided(configuration, 'img/1'), [
    [SITE_C, 'c-all', true],
    [SITE_B, 'b-low', false],
  ]);
});

t.test('a legacy Prefix rule has no priority, replicates delete markers, and the first of its kind decides', async (t) => {
  const legacy = (id: string, prefix: string): ReplicationRule => ({ id, enabled: true, form: 'Prefix', filter: { prefix }, destination: { arn: SITE_B } });
  t.ok(replicatesDeleteMarkers(legacy('x', '')), "S3's first schema replicates delete markers");
  t.notOk(replicatesDeleteMarkers(rule('y', {})), 'a Filter rule only when it says so');
  const configuration: ReplicationConfiguration = { role: 'arn:aws:iam::1:role/r', rules: [legacy('first', 'a'), legacy('second', 'a/')] };
  t.same(decided(configuration, 'a/b'), [[SITE_B, 'first', true]]);
});
