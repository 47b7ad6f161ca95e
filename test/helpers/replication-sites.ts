import { CreateBucketCommand, PutBucketVersioningCommand, S3Client } from '@aws-sdk/client-s3';
import type { Test } from 'tap';
import { runAdminCli } from '../../src/bin/admin-cli.js';
import type { DevServer } from './server.js';

/** An SDK client of a started `tessera dev`, with its printed credentials; one attempt per request. */
export function devClient(dev: DevServer): S3Client {
  return new S3Client({
    endpoint: dev.endpoint,
    region: dev.region,
    forcePathStyle: true,
    credentials: { accessKeyId: dev.accessKeyId, secretAccessKey: dev.secretAccessKey },
    maxAttempts: 1,
  });
}

/**
 * Defines on `source` (`tessera admin target add --data`) a replication target writing to `bucket` on
 * `destination` with its credentials, the secret passed through the environment; answers the ARN a
 * rule names it by.
 */
export async function defineSite(t: Test, source: DevServer, destination: DevServer, name: string, bucket: string): Promise<string> {
  let out = '';
  const args = ['target', 'add', name, '--type', 's3', '--endpoint', destination.endpoint, '--bucket', bucket, '--access-key', destination.accessKeyId, '--secret-key-env', 'SITE_SECRET'];
  const code = await runAdminCli([...args, '--data', source.dataDir], { SITE_SECRET: destination.secretAccessKey }, {
    stdout: (text) => void (out += text),
    stderr: (text) => void (out += text),
  });
  t.equal(code, 0, `target ${name} is defined: ${out.trim()}`);
  return out.trim().split('\n').at(-1) ?? '';
}

/** Creates `bucket` with versioning Enabled, as replication requires of a source (and S3 of a destination). */
export async function versionedBucket(s3: S3Client, bucket: string): Promise<void> {
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  await s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
}
