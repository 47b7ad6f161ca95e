import { t } from 'tap';
import fc from 'fast-check';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectVersionsCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { bucketName, collect } from '../helpers/bytes.js';
import { startCluster } from '../helpers/cluster.js';

/**
 * Model-based test of versioned keys: random PUT, DELETE, DELETE by version, GET by version, GET and
 * HEAD of the latest, suspend and re-enable, against an in-memory model of S3's rules. After every
 * command the key's version listing and its latest GET must match the model.
 */

const cluster = await startCluster({ nodeHealing: false, blockSizeBytes: 64 * 1024, gatewayOverrides: { metadataTimeoutMs: 10_000, stallTimeoutMs: 10_000 } });
t.teardown(() => cluster.close());
const s3 = cluster.client();

interface Entry {
  /** The id S3 shows: the write's own, or `null`. */
  id: string;
  body: string | null;
}

interface Model {
  status: 'Unversioned' | 'Enabled' | 'Suspended';
  /** Versions of the key, newest first. */
  versions: Entry[];
}

interface Real {
  s3: S3Client;
  bucket: string;
  key: string;
}

async function failure(work: Promise<unknown>): Promise<{ status: number; headers: Record<string, string> } | null> {
  try {
    await work;
    return null;
  } catch (err) {
    const e = err as { $metadata?: { httpStatusCode?: number }; $response?: { headers?: Record<string, string> } };
    return { status: e.$metadata?.httpStatusCode ?? -1, headers: e.$response?.headers ?? {} };
  }
}

async function check(model: Model, real: Real): Promise<void> {
  const page = await real.s3.send(new ListObjectVersionsCommand({ Bucket: real.bucket, Prefix: real.key }));
  const versions = (page.Versions ?? []).map((v) => [v.VersionId, v.IsLatest]);
  const markers = (page.DeleteMarkers ?? []).map((m) => [m.VersionId, m.IsLatest]);
  const expectedVersions = model.versions.flatMap((e, i) => (e.body === null ? [] : [[e.id, i === 0]]));
  const expectedMarkers = model.versions.flatMap((e, i) => (e.body === null ? [[e.id, i === 0]] : []));
  if (JSON.stringify(versions) !== JSON.stringify(expectedVersions) || JSON.stringify(markers) !== JSON.stringify(expectedMarkers)) {
    throw new Error(`listing ${JSON.stringify({ versions, markers })} != model ${JSON.stringify({ expectedVersions, expectedMarkers })}`);
  }
  const latest = model.versions[0];
  if (latest === undefined || latest.body === null) {
    const failed = await failure(real.s3.send(new GetObjectCommand({ Bucket: real.bucket, Key: real.key })));
    if (failed?.status !== 404) throw new Error(`GET latest: ${JSON.stringify(failed)}, expected 404`);
    if (latest !== undefined && failed.headers['x-amz-delete-marker'] !== 'true') throw new Error('GET behind a marker lacks x-amz-delete-marker');
  } else {
    const got = await real.s3.send(new GetObjectCommand({ Bucket: real.bucket, Key: real.key }));
    const text = (await collect(got.Body as AsyncIterable<Uint8Array>)).toString();
    if (text !== latest.body) throw new Error(`GET latest: ${text}, expected ${latest.body}`);
  }
}

class Put implements fc.AsyncCommand<Model, Real> {
  readonly body: string;
  constructor(body: string) {
    this.body = body;
  }
  check(): boolean {
    return true;
  }
  async run(model: Model, real: Real): Promise<void> {
    const answer = await real.s3.send(new PutObjectCommand({ Bucket: real.bucket, Key: real.key, Body: this.body }));
    if (model.status === 'Enabled') {
      if (answer.VersionId === undefined || answer.VersionId === 'null') throw new Error(`PUT under Enabled answered ${answer.VersionId}`);
      model.versions.unshift({ id: answer.VersionId, body: this.body });
    } else {
      // Neither an unversioned nor a suspended write names its (null) version in the answer, as in S3.
      if (answer.VersionId !== undefined) throw new Error(`PUT under ${model.status} answered ${answer.VersionId}`);
      model.versions = [{ id: 'null', body: this.body }, ...model.versions.filter((e) => e.id !== 'null')];
    }
    await check(model, real);
  }
  toString(): string {
    return `put(${this.body})`;
  }
}

class Delete implements fc.AsyncCommand<Model, Real> {
  check(): boolean {
    return true;
  }
  async run(model: Model, real: Real): Promise<void> {
    const answer = await real.s3.send(new DeleteObjectCommand({ Bucket: real.bucket, Key: real.key }));
    if (model.status === 'Unversioned') {
      model.versions = [];
    } else if (model.status === 'Enabled') {
      if (answer.DeleteMarker !== true || answer.VersionId === undefined) throw new Error('DELETE under Enabled wrote no marker');
      model.versions.unshift({ id: answer.VersionId, body: null });
    } else {
      if (answer.DeleteMarker !== true || answer.VersionId !== 'null') throw new Error('DELETE under Suspended wrote no null marker');
      model.versions = [{ id: 'null', body: null }, ...model.versions.filter((e) => e.id !== 'null')];
    }
    await check(model, real);
  }
  toString(): string {
    return 'delete';
  }
}

class DeleteVersion implements fc.AsyncCommand<Model, Real> {
  readonly pick: number;
  constructor(pick: number) {
    this.pick = pick;
  }
  check(model: Readonly<Model>): boolean {
    return model.versions.length > 0;
  }
  async run(model: Model, real: Real): Promise<void> {
    const index = this.pick % model.versions.length;
    const entry = model.versions[index] as Entry;
    const answer = await real.s3.send(new DeleteObjectCommand({ Bucket: real.bucket, Key: real.key, VersionId: entry.id }));
    if (answer.VersionId !== entry.id) throw new Error(`DELETE by id answered ${answer.VersionId}, expected ${entry.id}`);
    if (model.status !== 'Unversioned' && (answer.DeleteMarker === true) !== (entry.body === null)) throw new Error('DELETE by id misreports x-amz-delete-marker');
    model.versions.splice(index, 1);
    await check(model, real);
  }
  toString(): string {
    return `deleteVersion(${this.pick})`;
  }
}

class GetVersion implements fc.AsyncCommand<Model, Real> {
  readonly pick: number;
  constructor(pick: number) {
    this.pick = pick;
  }
  check(model: Readonly<Model>): boolean {
    return model.versions.length > 0;
  }
  async run(model: Model, real: Real): Promise<void> {
    const entry = model.versions[this.pick % model.versions.length] as Entry;
    if (entry.body === null) {
      const failed = await failure(real.s3.send(new GetObjectCommand({ Bucket: real.bucket, Key: real.key, VersionId: entry.id })));
      if (failed?.status !== 405) throw new Error(`GET of marker ${entry.id}: ${JSON.stringify(failed)}, expected 405`);
      return;
    }
    const got = await real.s3.send(new GetObjectCommand({ Bucket: real.bucket, Key: real.key, VersionId: entry.id }));
    const text = (await collect(got.Body as AsyncIterable<Uint8Array>)).toString();
    if (text !== entry.body || got.VersionId !== entry.id) throw new Error(`GET ${entry.id}: ${text} (${got.VersionId}), expected ${entry.body}`);
  }
  toString(): string {
    return `getVersion(${this.pick})`;
  }
}

class SetVersioning implements fc.AsyncCommand<Model, Real> {
  readonly status: 'Enabled' | 'Suspended';
  constructor(status: 'Enabled' | 'Suspended') {
    this.status = status;
  }
  check(): boolean {
    return true;
  }
  async run(model: Model, real: Real): Promise<void> {
    await real.s3.send(new PutBucketVersioningCommand({ Bucket: real.bucket, VersioningConfiguration: { Status: this.status } }));
    model.status = this.status;
    await check(model, real);
  }
  toString(): string {
    return `versioning(${this.status})`;
  }
}

const commands = [
  fc.string({ minLength: 1, maxLength: 12 }).map((body) => new Put(body)),
  fc.constant(new Delete()),
  fc.nat(20).map((pick) => new DeleteVersion(pick)),
  fc.nat(20).map((pick) => new GetVersion(pick)),
  fc.constantFrom('Enabled' as const, 'Suspended' as const).map((status) => new SetVersioning(status)),
];

t.test('random histories of one key match S3’s versioning rules: listings, latest GETs and GETs by version', async (t) => {
  let runs = 0;
  await fc.assert(
    fc.asyncProperty(fc.commands(commands, { maxCommands: 14 }), async (cmds) => {
      runs += 1;
      const bucket = bucketName('model');
      await s3.send(new CreateBucketCommand({ Bucket: bucket }));
      await fc.asyncModelRun(() => ({ model: { status: 'Unversioned', versions: [] } as Model, real: { s3, bucket, key: 'k' } }), cmds);
    }),
    { numRuns: 12, endOnFailure: true },
  );
  t.equal(runs >= 12, true, 'every run executed against the cluster');
});
