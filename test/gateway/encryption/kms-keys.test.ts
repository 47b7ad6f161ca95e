import { randomBytes } from 'node:crypto';
import { t } from 'tap';
import {
  DEFAULT_KMS_KEY,
  MasterKeyring,
  ObjectSealer,
  kmsVersionKey,
  masterKeyLine,
  newKmsKeyMaterial,
  nodePackageCipher,
  parseEncryptionContext,
  parseKmsKeyId,
  resealKmsKeyMaterial,
} from '../../../src/gateway/encryption/index.js';
import type { KmsKeyMaterial } from '../../../src/rpc/index.js';

const ring = MasterKeyring.parse(masterKeyLine(randomBytes(32)));

t.test('a key id is a name, an alias or an ARN of this region; anything else is KMS.NotFoundException', async (t) => {
  for (const id of ['app', 'alias/app', 'arn:aws:kms:us-east-1:000000000000:key/app', 'arn:aws:kms:us-east-1:111122223333:alias/app']) {
    t.equal(parseKmsKeyId(id, 'us-east-1'), 'app', id);
  }
  t.equal(parseKmsKeyId('alias/aws/s3', 'us-east-1'), DEFAULT_KMS_KEY, 'alias/aws/s3 is the default key');
  for (const id of ['arn:aws:kms:eu-west-1:000000000000:key/app', 'arn:aws:kms:us-east-1:000000000000:grant/app', 'arn:aws:s3:us-east-1:000000000000:key/app', 'a b', 'x'.repeat(65), 'alias/', '../etc']) {
    t.throws(() => parseKmsKeyId(id, 'us-east-1'), { code: 'KMS.NotFoundException' }, id);
  }
});

t.test('an encryption context is base64 JSON of a string map, kept canonical; aws: keys are refused', async (t) => {
  const b64 = (text: string): string => Buffer.from(text).toString('base64');
  t.equal(parseEncryptionContext(b64('{"z":"1","a":"é"}')), '{"a":"é","z":"1"}');
  t.equal(parseEncryptionContext(b64('{}')), '{}');
  for (const bad of ['***', b64('[]'), b64('"s"'), b64('{"a":1}'), b64('{"aws:s3:arn":"x"}'), b64('{"":"x"}'), b64(`{"a":"${'x'.repeat(9000)}"}`), b64('{bad')]) {
    t.throws(() => parseEncryptionContext(bad), { code: 'InvalidArgument' }, bad.slice(0, 40));
  }
});

t.test('each version of a key has its own key; re-sealing under a new master key keeps them', async (t) => {
  const material = newKmsKeyMaterial(ring.current, 'app', 1);
  const v1 = kmsVersionKey(ring, 'app', material, 1);
  const v2 = kmsVersionKey(ring, 'app', material, 2);
  t.notOk(v1.equals(v2), 'versions differ');
  t.throws(() => kmsVersionKey(ring, 'other', material, 1), { code: 'KeyUnsealFailed' }, 'a root opens only for its own name');
  const next = MasterKeyring.parse(masterKeyLine(randomBytes(32)) + masterKeyLine(ring.current.key));
  const resealed = resealKmsKeyMaterial(next, 'app', material) as KmsKeyMaterial;
  t.equal(resealed.masterKeyId, next.current.id);
  t.ok(kmsVersionKey(next, 'app', resealed, 2).equals(v2), 'the same version keys after re-sealing');
  t.equal(resealKmsKeyMaterial(next, 'app', resealed), undefined, 'nothing to do once current');
  const a = newKmsKeyMaterial(ring.current, DEFAULT_KMS_KEY, 1);
  const b = newKmsKeyMaterial(ring.current, DEFAULT_KMS_KEY, 2);
  t.equal(a.sealedRoot, b.sealedRoot, 'two gateways making the default key at once make the same one');
  t.not(newKmsKeyMaterial(ring.current, 'app', 1).sealedRoot, material.sealedRoot, 'a created key is random');
});

t.test('the sealer binds key, version and context into an SSE-KMS data key, and refuses disabled or unknown keys', async (t) => {
  const keys = new Map<string, KmsKeyMaterial>([['app', { ...newKmsKeyMaterial(ring.current, 'app', 1), versions: 2 }]]);
  const sealer = new ObjectSealer({ masterKeys: ring, cipher: nodePackageCipher() });
  sealer.useKmsKeys({ kmsKey: (name) => keys.get(name) }, 'us-east-1');
  const body = sealer.forBody({ kind: 'SSE-KMS', keyName: 'app', context: '{"a":"1"}', bucketKey: true });
  const field = body?.field;
  t.ok(field, 'an SSE-KMS body has a field');
  if (field === undefined) return;
  t.match(field, { kind: 'SSE-KMS', kmsKeyName: 'app', kmsKeyVersion: 2, kmsContext: '{"a":"1"}', bucketKey: true });
  const dataKey = sealer.dataKey(field, { kind: 'none' });
  t.equal(dataKey.length, 32);
  t.throws(() => sealer.dataKey({ ...field, kmsContext: '{"a":"2"}' }, { kind: 'none' }), { code: 'InternalError' }, 'another context does not open it');
  t.throws(() => sealer.dataKey({ ...field, kmsKeyVersion: 1 }, { kind: 'none' }), { code: 'InternalError' }, 'another version does not open it');
  t.throws(() => sealer.dataKey({ ...field, kmsKeyVersion: 3 }, { kind: 'none' }), { code: 'InternalError' }, 'a version the key does not have');
  t.same(sealer.responseHeaders(field, { kind: 'none' }, true), {
    'x-amz-server-side-encryption': 'aws:kms',
    'x-amz-server-side-encryption-aws-kms-key-id': 'arn:aws:kms:us-east-1:000000000000:key/app',
    'x-amz-server-side-encryption-bucket-key-enabled': 'true',
    'x-amz-server-side-encryption-context': Buffer.from('{"a":"1"}').toString('base64'),
  });
  t.notOk('x-amz-server-side-encryption-context' in sealer.responseHeaders(field, { kind: 'none' }), 'reads do not echo the context');
  keys.set('app', { ...(keys.get('app') as KmsKeyMaterial), disabled: true });
  t.throws(() => sealer.dataKey(field, { kind: 'none' }), { code: 'KMS.DisabledException' });
  t.throws(() => sealer.forBody({ kind: 'SSE-KMS', keyName: 'app' }), { code: 'KMS.DisabledException' });
  t.throws(() => sealer.forBody({ kind: 'SSE-KMS', keyName: 'gone' }), { code: 'KMS.NotFoundException' });
});
