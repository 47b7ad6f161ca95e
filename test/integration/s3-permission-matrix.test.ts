import { t } from 'tap';
import { bucketName } from '../helpers/bytes.js';
import { addUser, startCluster, writeGatewayConfig } from '../helpers/cluster.js';
import { rawS3, xmlField, type RawRequest } from '../gateway/raw-s3.js';

/**
 * The permission matrix: operation × {owner, other user, anonymous} × {each bucket setting}, every
 * cell sent to a running Tessera and compared with what S3 answers. A = allowed, - = AccessDenied.
 */

const cluster = await startCluster({ nodeHealing: false });
t.teardown(() => cluster.close());
const configFile = await writeGatewayConfig(cluster);

const PRINCIPALS = { owner: await addUser(configFile, 'owner-user'), other: await addUser(configFile, 'other-user'), anonymous: undefined } as const;
type PrincipalName = keyof typeof PRINCIPALS;

type Operation = { name: string; request: (bucket: string, who: PrincipalName) => RawRequest };
const OPERATIONS: Operation[] = [
  { name: 'ListObjects', request: (bucket) => ({ method: 'GET', bucket }) },
  { name: 'GetObject', request: (bucket) => ({ method: 'GET', bucket, key: 'obj' }) },
  { name: 'PutObject', request: (bucket, who) => ({ method: 'PUT', bucket, key: `new-${who}`, body: 'n' }) },
  { name: 'DeleteObject', request: (bucket, who) => ({ method: 'DELETE', bucket, key: `victim-${who}` }) },
  { name: 'GetBucketAcl', request: (bucket) => ({ method: 'GET', bucket, query: { acl: '' } }) },
  { name: 'GetObjectAcl', request: (bucket) => ({ method: 'GET', bucket, key: 'obj', query: { acl: '' } }) },
  { name: 'GetBucketLocation', request: (bucket) => ({ method: 'GET', bucket, query: { location: '' } }) },
];

/** Each bucket setting: how the owner sets it up, and the expected row per principal (one letter per operation above). */
const SETTINGS: {
  name: string;
  bucketAcl: string;
  objectAcl: string;
  policy?: (bucket: string) => unknown;
  publicAccessBlock?: string;
  expected: Record<PrincipalName, string>;
}[] = [
  { name: 'private', bucketAcl: 'private', objectAcl: 'private', expected: { owner: 'AAAAAAA', other: '-------', anonymous: '-------' } },
  { name: 'public-read', bucketAcl: 'public-read', objectAcl: 'public-read', expected: { owner: 'AAAAAAA', other: 'AA-----', anonymous: 'AA-----' } },
  { name: 'public-read-write', bucketAcl: 'public-read-write', objectAcl: 'private', expected: { owner: 'AAAAAAA', other: 'A-AA---', anonymous: 'A-AA---' } },
  { name: 'authenticated-read', bucketAcl: 'authenticated-read', objectAcl: 'authenticated-read', expected: { owner: 'AAAAAAA', other: 'AA-----', anonymous: '-------' } },
  {
    name: 'a policy that allows',
    bucketAcl: 'private',
    objectAcl: 'private',
    policy: (bucket) => ({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Principal: '*', Action: ['s3:ListBucket', 's3:GetObject', 's3:PutObject', 's3:DeleteObject'], Resource: [`arn:aws:s3:::${bucket}`, `arn:aws:s3:::${bucket}/*`] }],
    }),
    expected: { owner: 'AAAAAAA', other: 'AAAA---', anonymous: 'AAAA---' },
  },
  {
    name: 'a policy that denies',
    bucketAcl: 'public-read-write',
    objectAcl: 'public-read',
    policy: (bucket) => ({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Deny', Principal: '*', Action: 's3:*', Resource: [`arn:aws:s3:::${bucket}`, `arn:aws:s3:::${bucket}/*`] }],
    }),
    expected: { owner: '-------', other: '-------', anonymous: '-------' },
  },
  {
    name: 'public-read-write under a public access block (IgnorePublicAcls, RestrictPublicBuckets)',
    bucketAcl: 'public-read-write',
    objectAcl: 'public-read',
    publicAccessBlock: '<PublicAccessBlockConfiguration><IgnorePublicAcls>true</IgnorePublicAcls><RestrictPublicBuckets>true</RestrictPublicBuckets></PublicAccessBlockConfiguration>',
    policy: (bucket) => ({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${bucket}/*` }],
    }),
    expected: { owner: 'AAAAAAA', other: '-A-----', anonymous: '-------' },
  },
];

for (const setting of SETTINGS) {
  t.test(`bucket ${setting.name}: ${OPERATIONS.map((o) => o.name).join(', ')} for owner, other user and anonymous`, async (t) => {
    const bucket = bucketName('matrix');
    const owner = PRINCIPALS.owner;
    const setup = async (request: RawRequest, what: string): Promise<void> => {
      const response = await rawS3(cluster.endpoint, { ...request, credentials: owner });
      if (response.status >= 300) throw new Error(`${what}: ${response.status} ${response.body}`);
    };
    await setup({ method: 'PUT', bucket, headers: { 'x-amz-acl': setting.bucketAcl } }, 'create');
    await setup({ method: 'PUT', bucket, key: 'obj', body: 'o', headers: { 'x-amz-acl': setting.objectAcl } }, 'object');
    if (setting.policy !== undefined) await setup({ method: 'PUT', bucket, query: { policy: '' }, body: JSON.stringify(setting.policy(bucket)) }, 'policy');
    if (setting.publicAccessBlock !== undefined) await setup({ method: 'PUT', bucket, query: { publicAccessBlock: '' }, body: setting.publicAccessBlock }, 'public access block');
    for (const who of Object.keys(PRINCIPALS) as PrincipalName[]) {
      const credentials = PRINCIPALS[who];
      let row = '';
      for (const operation of OPERATIONS) {
        const request = operation.request(bucket, who);
        const response = await rawS3(cluster.endpoint, credentials === undefined ? { ...request, anonymous: true } : { ...request, credentials });
        if (response.status === 403) {
          t.equal(xmlField(response.body, 'Code'), 'AccessDenied', `${who} ${operation.name}: a refusal is AccessDenied`);
          row += '-';
        } else {
          t.ok(response.status < 300, `${who} ${operation.name}: allowed means served (${response.status})`);
          row += 'A';
        }
      }
      t.equal(row, setting.expected[who], `${who}: ${OPERATIONS.map((o, i) => `${o.name}=${setting.expected[who][i]}`).join(' ')}`);
    }
  });
}
