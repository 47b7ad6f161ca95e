import { createHmac } from 'node:crypto';
import { t } from 'tap';
import { bucketName } from '../helpers/bytes.js';
import { addUser, startCluster, writeGatewayConfig } from '../helpers/cluster.js';
import { rawS3, xmlField } from '../gateway/raw-s3.js';

/**
 * A POST upload is a PutObject by its signer: for every bucket setting of the permission matrix and
 * every principal (owner, other user, anonymous with an unsigned form), the form is taken exactly
 * when the same principal's PUT of the same key is, and refused with AccessDenied otherwise.
 */

const cluster = await startCluster({ nodeHealing: false });
t.teardown(() => cluster.close());
const configFile = await writeGatewayConfig(cluster);

type Keys = { accessKeyId: string; secretAccessKey: string };
const PRINCIPALS = { owner: await addUser(configFile, 'post-owner'), other: await addUser(configFile, 'post-other'), anonymous: undefined } as const;
type PrincipalName = keyof typeof PRINCIPALS;

/** A form for `key`: signed with SigV2 by `keys` over a policy naming the bucket and key, or unsigned. */
function form(bucket: string, key: string, keys: Keys | undefined): FormData {
  const data = new FormData();
  data.append('key', key);
  if (keys !== undefined) {
    const policy = Buffer.from(JSON.stringify({ expiration: new Date(Date.now() + 600_000).toISOString(), conditions: [{ bucket }, { key }] })).toString('base64');
    data.append('AWSAccessKeyId', keys.accessKeyId);
    data.append('policy', policy);
    data.append('signature', createHmac('sha1', keys.secretAccessKey).update(policy).digest('base64'));
  }
  data.append('file', new Blob(['posted']), 'f.txt');
  return data;
}

const everyoneMayPut = (bucket: string) => ({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Principal: '*', Action: 's3:PutObject', Resource: `arn:aws:s3:::${bucket}/*` }],
});

const SETTINGS: { name: string; bucketAcl: string; policy?: (bucket: string) => unknown; publicAccessBlock?: string; expected: Record<PrincipalName, 'A' | '-'> }[] = [
  { name: 'private', bucketAcl: 'private', expected: { owner: 'A', other: '-', anonymous: '-' } },
  { name: 'public-read', bucketAcl: 'public-read', expected: { owner: 'A', other: '-', anonymous: '-' } },
  { name: 'public-read-write', bucketAcl: 'public-read-write', expected: { owner: 'A', other: 'A', anonymous: 'A' } },
  { name: 'authenticated-read', bucketAcl: 'authenticated-read', expected: { owner: 'A', other: '-', anonymous: '-' } },
  { name: 'a policy that allows PutObject to everyone', bucketAcl: 'private', policy: everyoneMayPut, expected: { owner: 'A', other: 'A', anonymous: 'A' } },
  {
    name: 'a policy that denies',
    bucketAcl: 'public-read-write',
    policy: (bucket) => ({ Version: '2012-10-17', Statement: [{ Effect: 'Deny', Principal: '*', Action: 's3:*', Resource: `arn:aws:s3:::${bucket}/*` }] }),
    expected: { owner: '-', other: '-', anonymous: '-' },
  },
  {
    name: 'public-read-write under IgnorePublicAcls',
    bucketAcl: 'public-read-write',
    publicAccessBlock: '<PublicAccessBlockConfiguration><IgnorePublicAcls>true</IgnorePublicAcls></PublicAccessBlockConfiguration>',
    expected: { owner: 'A', other: '-', anonymous: '-' },
  },
];

for (const setting of SETTINGS) {
  t.test(`bucket ${setting.name}: POST as owner, other user and anonymous is allowed exactly where PUT is`, async (t) => {
    const bucket = bucketName('postperm');
    const owner = PRINCIPALS.owner;
    const setup = async (request: Parameters<typeof rawS3>[1], what: string): Promise<void> => {
      const response = await rawS3(cluster.endpoint, { ...request, credentials: owner });
      if (response.status >= 300) throw new Error(`${what}: ${response.status} ${response.body}`);
    };
    await setup({ method: 'PUT', bucket, headers: { 'x-amz-acl': setting.bucketAcl } }, 'create');
    if (setting.policy !== undefined) await setup({ method: 'PUT', bucket, query: { policy: '' }, body: JSON.stringify(setting.policy(bucket)) }, 'policy');
    if (setting.publicAccessBlock !== undefined) await setup({ method: 'PUT', bucket, query: { publicAccessBlock: '' }, body: setting.publicAccessBlock }, 'public access block');
    for (const who of Object.keys(PRINCIPALS) as PrincipalName[]) {
      const keys = PRINCIPALS[who];
      const put = await rawS3(cluster.endpoint, keys === undefined ? { method: 'PUT', bucket, key: `put-${who}`, body: 'p', anonymous: true } : { method: 'PUT', bucket, key: `put-${who}`, body: 'p', credentials: keys });
      const response = await fetch(`${cluster.endpoint}/${bucket}`, { method: 'POST', body: form(bucket, `post-${who}`, keys) });
      const body = await response.text();
      const outcome = response.status === 204 ? 'A' : response.status === 403 && xmlField(body, 'Code') === 'AccessDenied' ? '-' : `unexpected ${response.status} ${body}`;
      t.equal(outcome, setting.expected[who], `${who}: POST`);
      t.equal(put.status < 300 ? 'A' : '-', outcome, `${who}: PUT agrees`);
    }
  });
}
