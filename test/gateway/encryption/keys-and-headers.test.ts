import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { t } from 'tap';
import { runConfigCli } from '../../../src/bin/config-cli.js';
import {
  MasterKeyring,
  ObjectSealer,
  customerKeyMatches,
  masterKeyLine,
  nodePackageCipher,
  parseReadSse,
  parseWriteSse,
  sealDataKey,
  unsealDataKey,
  type KeyTransport,
} from '../../../src/gateway/encryption/index.js';

const secure: KeyTransport = { secure: true, allowInsecure: false };

function headers(values: Record<string, string>): (name: string) => string | undefined {
  return (name) => values[name];
}

function keyHeaders(key: Buffer, prefix = 'x-amz-server-side-encryption-customer-'): Record<string, string> {
  return { [`${prefix}algorithm`]: 'AES256', [`${prefix}key`]: key.toString('base64'), [`${prefix}key-md5`]: createHash('md5').update(key).digest('base64') };
}

t.test('SSE request headers are checked as S3 checks them', async (t) => {
  const key = randomBytes(32);
  t.same(parseWriteSse(headers({}), secure), { kind: 'none' });
  t.same(parseWriteSse(headers({ 'x-amz-server-side-encryption': 'AES256' }), secure), { kind: 'SSE-S3' });
  t.same(parseWriteSse(headers({ 'x-amz-server-side-encryption': 'aws:kms' }), secure), { kind: 'SSE-KMS', keyId: undefined, context: undefined, bucketKey: undefined });
  t.same(
    parseWriteSse(
      headers({
        'x-amz-server-side-encryption': 'aws:kms',
        'x-amz-server-side-encryption-aws-kms-key-id': 'app',
        'x-amz-server-side-encryption-context': Buffer.from('{"b":"2","a":"1"}').toString('base64'),
        'x-amz-server-side-encryption-bucket-key-enabled': 'true',
      }),
      secure,
    ),
    { kind: 'SSE-KMS', keyId: 'app', context: '{"a":"1","b":"2"}', bucketKey: true },
    'aws:kms with its key id, context (kept in canonical order) and bucket key',
  );
  t.match(parseWriteSse(headers(keyHeaders(key)), secure), { kind: 'SSE-C', keyMd5Base64: createHash('md5').update(key).digest('base64') });
  const refused: [Record<string, string>, string, string][] = [
    [{ 'x-amz-server-side-encryption': 'AES128' }, 'InvalidArgument', 'an unknown SSE algorithm'],
    [{ 'x-amz-server-side-encryption': 'aws:kms:dsse' }, 'NotImplemented', 'dual-layer aws:kms:dsse'],
    [{ 'x-amz-server-side-encryption': 'aws:kms', 'x-amz-server-side-encryption-context': 'e30=!' }, 'InvalidArgument', 'a context that is not base64'],
    [{ 'x-amz-server-side-encryption': 'aws:kms', 'x-amz-server-side-encryption-bucket-key-enabled': 'yes' }, 'InvalidArgument', 'a bucket key flag that is not true or false'],
    [{ ...keyHeaders(key), 'x-amz-server-side-encryption': 'aws:kms' }, 'InvalidArgument', 'SSE-C and SSE-KMS together'],
    [{ 'x-amz-server-side-encryption-context': 'e30=' }, 'InvalidArgument', 'a context without aws:kms'],
    [{ ...keyHeaders(key), 'x-amz-server-side-encryption-customer-algorithm': 'AES128' }, 'InvalidEncryptionAlgorithmError', 'an SSE-C algorithm other than AES256'],
    [{ 'x-amz-server-side-encryption-customer-key': key.toString('base64') }, 'InvalidArgument', 'a key without its algorithm'],
    [{ 'x-amz-server-side-encryption-customer-algorithm': 'AES256' }, 'InvalidArgument', 'an algorithm without a key'],
    [{ ...keyHeaders(key), 'x-amz-server-side-encryption-customer-key': randomBytes(31).toString('base64') }, 'InvalidArgument', 'a key of 31 bytes'],
    [{ ...keyHeaders(key), 'x-amz-server-side-encryption-customer-key': 'not base64!' }, 'InvalidArgument', 'a key that is not base64'],
    [{ ...keyHeaders(key), 'x-amz-server-side-encryption-customer-key-md5': 'AAAAAAAAAAAAAAAAAAAAAA==' }, 'InvalidArgument', 'a key MD5 that does not match'],
    [{ ...keyHeaders(key), 'x-amz-server-side-encryption': 'AES256' }, 'InvalidArgument', 'SSE-C and SSE-S3 together'],
  ];
  for (const [values, code, what] of refused) t.throws(() => parseWriteSse(headers(values), secure), { code }, what);
  const noMd5 = keyHeaders(key);
  delete noMd5['x-amz-server-side-encryption-customer-key-md5'];
  t.throws(() => parseWriteSse(headers(noMd5), secure), { code: 'InvalidArgument' }, 'a key without its MD5');
  t.throws(() => parseWriteSse(headers(keyHeaders(key)), { secure: false, allowInsecure: false }), { code: 'InvalidRequest' }, 'SSE-C over plain HTTP');
  t.match(parseWriteSse(headers(keyHeaders(key)), { secure: false, allowInsecure: true }), { kind: 'SSE-C' }, 'unless allowed');
  t.throws(() => parseReadSse(headers({ 'x-amz-server-side-encryption': 'AES256' }), secure), { code: 'InvalidArgument' }, 'SSE-S3 header on a read');
  const copyPrefix = 'x-amz-copy-source-server-side-encryption-customer-';
  t.match(parseReadSse(headers(keyHeaders(key, copyPrefix)), secure, copyPrefix), { kind: 'SSE-C' }, 'the copy source key under its own prefix');
});

t.test('sealed data keys open only under their key and context', async (t) => {
  const kek = randomBytes(32);
  const dataKey = randomBytes(32);
  const sealed = sealDataKey(kek, dataKey, 'SSE-S3\0a');
  t.ok(unsealDataKey(kek, sealed, 'SSE-S3\0a').equals(dataKey));
  t.throws(() => unsealDataKey(randomBytes(32), sealed, 'SSE-S3\0a'), { code: 'KeyUnsealFailed' }, 'another key');
  t.throws(() => unsealDataKey(kek, sealed, 'SSE-S3\0b'), { code: 'KeyUnsealFailed' }, 'another context');
  t.not(sealDataKey(kek, dataKey, 'x'), sealDataKey(kek, dataKey, 'x'), 'a fresh nonce per seal');
});

t.test('the sealer: SSE-C digests recognise the key; reseal moves SSE-S3 keys to the current master key, deterministically', async (t) => {
  const oldKey = MasterKeyring.parse(masterKeyLine(randomBytes(32)));
  const sealer = new ObjectSealer({ masterKeys: oldKey, cipher: nodePackageCipher() });
  const customer = randomBytes(32);
  const request = { kind: 'SSE-C' as const, customerKey: customer, keyMd5Base64: '' };
  const field = sealer.forBody(request)?.field;
  t.ok(field?.customerKeyDigest !== undefined && field.customerKeySalt !== undefined);
  if (field?.customerKeyDigest === undefined || field.customerKeySalt === undefined) return;
  t.ok(customerKeyMatches(customer, field.customerKeySalt, field.customerKeyDigest));
  t.notOk(customerKeyMatches(randomBytes(32), field.customerKeySalt, field.customerKeyDigest));
  t.equal(JSON.stringify(field).includes(customer.toString('base64')), false, 'the record field does not hold the key');
  t.throws(() => sealer.dataKey(field, { ...request, customerKey: randomBytes(32) }), { code: 'AccessDenied' });
  t.throws(() => sealer.dataKey(field, { kind: 'none' }), { code: 'InvalidRequest' });

  const s3Field = sealer.newUpload({ kind: 'SSE-S3' });
  if (s3Field === undefined) throw new Error('no field');
  const dataKey = sealer.dataKey(s3Field, { kind: 'none' });
  const newLine = masterKeyLine(randomBytes(32));
  const both = MasterKeyring.parse(`${newLine}${masterKeyLine(oldKey.current.key)}`);
  sealer.useMasterKeys(both);
  const resealed = sealer.reseal(s3Field);
  t.equal(resealed.masterKeyId, both.current.id);
  t.same(sealer.reseal(s3Field), resealed, 'the same record reseals to the same bytes on every node');
  sealer.useMasterKeys(MasterKeyring.parse(newLine));
  t.ok(sealer.dataKey(resealed, { kind: 'none' }).equals(dataKey), 'the resealed key opens under the new master key alone');
  t.throws(() => sealer.dataKey(s3Field, { kind: 'none' }), { code: 'InternalError' }, 'the old seal needs the old key');
});

t.test('master key files: lines of id and base64 key; bad files are refused, also by tessera config check', async (t) => {
  const ring = MasterKeyring.parse(`# comment\n${masterKeyLine(randomBytes(32))}\n${masterKeyLine(randomBytes(32))}`);
  t.equal(ring.ids().length, 2);
  t.throws(() => MasterKeyring.parse(''), { code: 'MasterKeyFileInvalid' });
  t.throws(() => MasterKeyring.parse(`k1 ${randomBytes(16).toString('base64')}\n`), { code: 'MasterKeyFileInvalid' }, 'a 128-bit key');
  t.throws(() => MasterKeyring.parse(`k1 ${randomBytes(32).toString('base64')}\nk1 ${randomBytes(32).toString('base64')}\n`), { code: 'MasterKeyFileInvalid' }, 'an id twice');
  const dir = await mkdtemp(join(tmpdir(), 'tessera-mk-check-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const keyPath = join(dir, 'keys');
  const configPath = join(dir, 'gateway.json');
  await writeFile(configPath, JSON.stringify({ nodes: [{ id: 'n0', address: '127.0.0.1:9100' }], erasure: { dataShards: 1, parityShards: 0 }, clusterSecret: 'a-cluster-secret-of-length', credentials: [{ accessKeyId: 'a', secretAccessKey: 'b' }], sseMasterKeyFile: keyPath }));
  const check = async (): Promise<{ code: number; err: string }> => {
    let err = '';
    const code = await runConfigCli(['check', configPath], {}, { stdout: () => undefined, stderr: (s) => void (err += s) });
    return { code, err };
  };
  await writeFile(keyPath, 'not a key\n', { mode: 0o600 });
  const bad = await check();
  t.not(bad.code, 0, 'a bad master key file fails the check');
  t.match(bad.err, /sseMasterKeyFile/);
  await writeFile(keyPath, masterKeyLine(randomBytes(32)));
  t.equal((await check()).code, 0, 'a good one passes');
});
