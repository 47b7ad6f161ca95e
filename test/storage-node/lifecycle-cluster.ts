import { ListObjectVersionsCommand, PutBucketLifecycleConfigurationCommand, S3ServiceException, type LifecycleRule, type S3Client } from '@aws-sdk/client-s3';
import { startGcCluster, type GcCluster } from './gc-cluster.js';

/** How long a lifecycle test waits for what a rule should do: many one-second "days" of passes. */
export const LIFECYCLE_DEADLINE_MS = 60_000;

/** Six nodes whose lifecycle "day" is one second and whose collector is off, so that what goes is the lifecycle worker's doing. */
export async function startLifecycleCluster(t: { teardown(fn: () => unknown): void }): Promise<GcCluster> {
  return startGcCluster(t, { lifecycleDaySeconds: 1, lifecycleIntervalMs: 100, lifecycleKeysPerSecond: 0, gc: false });
}

/** Whether a read answers 404 (the body of one that succeeds is read to its end). */
export async function missing(promise: Promise<unknown>): Promise<boolean> {
  try {
    const got = (await promise) as { Body?: { transformToString(): Promise<string> } };
    await got.Body?.transformToString();
    return false;
  } catch (err) {
    if (err instanceof S3ServiceException && err.$metadata.httpStatusCode === 404) return true;
    throw err;
  }
}

/** The version ids and delete-marker ids ListObjectVersions gives under `prefix`, and whether a marker is the latest. */
export async function versionsOf(s3: S3Client, bucket: string, prefix: string): Promise<{ versions: string[]; markers: string[]; latestIsMarker: boolean }> {
  const page = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: prefix }));
  return {
    versions: (page.Versions ?? []).map((v) => v.VersionId ?? ''),
    markers: (page.DeleteMarkers ?? []).map((m) => m.VersionId ?? ''),
    latestIsMarker: (page.DeleteMarkers ?? []).some((m) => m.IsLatest === true),
  };
}

/** Replaces the bucket's lifecycle rules. */
export async function putRules(s3: S3Client, bucket: string, rules: LifecycleRule[]): Promise<void> {
  await s3.send(new PutBucketLifecycleConfigurationCommand({ Bucket: bucket, LifecycleConfiguration: { Rules: rules } }));
}
