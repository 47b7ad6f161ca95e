import { t } from 'tap';
import { matchingConfigurations, type NotificationRule } from '../../src/rpc/index.js';

t.test('an event goes to every configuration whose events cover it and whose prefix and suffix its key passes', async (t) => {
  const rules: NotificationRule[] = [
    { id: 'all-created', kind: 'Queue', arn: 'a1', events: ['s3:ObjectCreated:*'] },
    { id: 'tars', kind: 'Queue', arn: 'a2', events: ['s3:ObjectCreated:Put'], prefix: 'shards/', suffix: '.tar' },
    { id: 'copies', kind: 'Queue', arn: 'a3', events: ['s3:ObjectCreated:Copy'] },
    { id: 'removed', kind: 'Topic', arn: 'a4', events: ['s3:ObjectRemoved:*', 's3:LifecycleExpiration:*'], prefix: 'shards/' },
    { id: 'tags', kind: 'Topic', arn: 'a5', events: ['s3:ObjectTagging:Put'] },
  ];
  const ids = (name: Parameters<typeof matchingConfigurations>[1], key: string): string[] => matchingConfigurations(rules, name, key).map((rule) => rule.id);
  t.same(ids('s3:ObjectCreated:Put', 'shards/1.tar'), ['all-created', 'tars']);
  t.same(ids('s3:ObjectCreated:Put', 'shards/1.tar.gz'), ['all-created'], 'the suffix must end the key');
  t.same(ids('s3:ObjectCreated:Put', 'other/1.tar'), ['all-created'], 'the prefix must start the key');
  t.same(ids('s3:ObjectCreated:CompleteMultipartUpload', 'shards/1.tar'), ['all-created'], 'Put is not CompleteMultipartUpload');
  t.same(ids('s3:ObjectCreated:Copy', 'x'), ['all-created', 'copies']);
  t.same(ids('s3:ObjectRemoved:DeleteMarkerCreated', 'shards/x'), ['removed']);
  t.same(ids('s3:LifecycleExpiration:Delete', 'shards/x'), ['removed']);
  t.same(ids('s3:LifecycleExpiration:Delete', 'elsewhere'), []);
  t.same(ids('s3:ObjectTagging:Delete', 'x'), [], 'Put is not Delete');
  t.same(ids('s3:ObjectTagging:Put', 'x'), ['tags']);
});

t.test('a key with a pattern character is matched as text, never as a pattern', async (t) => {
  const rules: NotificationRule[] = [{ id: 'dots', kind: 'Queue', arn: 'a', events: ['s3:ObjectCreated:*'], prefix: 'a.*', suffix: '[x]' }];
  t.same(matchingConfigurations(rules, 's3:ObjectCreated:Put', 'a.*/[x]').length, 1);
  t.same(matchingConfigurations(rules, 's3:ObjectCreated:Put', 'abc/x').length, 0);
});
