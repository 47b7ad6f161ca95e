import { access, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { t } from 'tap';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetBucketCorsCommand,
  GetBucketLifecycleConfigurationCommand,
  GetBucketNotificationConfigurationCommand,
  GetObjectLegalHoldCommand,
  GetObjectRetentionCommand,
  GetBucketReplicationCommand,
  GetBucketVersioningCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectVersionsCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { underCi } from '../helpers/clients.js';
import { localS3Client, startCluster, TEST_CREDENTIALS } from '../helpers/cluster.js';
import { until } from '../helpers/until.js';
import { seededBytes } from '../helpers/bytes.js';
import { masterKeyFile } from '../helpers/sse.js';

/**
 * The web console in a real browser: Debian's Chromium, driven by puppeteer-core, against a running
 * cluster. Each page is checked for real data and saved as a screenshot under test-artifacts/console/.
 */
const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const ARTIFACTS = resolve(process.env['TESSERA_TEST_ARTIFACTS'] ?? 'test-artifacts', 'console');

async function chromiumAvailable(): Promise<boolean> {
  return access(CHROMIUM).then(() => true, () => false);
}

/** The text of every row of a table but its header. */
async function rows(page: Page, tableId: string): Promise<string[][]> {
  return page.$$eval(`#${tableId} tr`, (trs) => trs.slice(1).map((tr) => [...tr.querySelectorAll('td')].map((td) => (td.textContent ?? '').trim())));
}

t.test('the console signs in with an S3 key, refuses a wrong secret, and every page shows the live cluster', async (t) => {
  if (!(await chromiumAvailable())) {
    if (underCi()) t.fail(`no Chromium at ${CHROMIUM} (Debian package chromium)`);
    else t.comment(`skipped: no Chromium at ${CHROMIUM} (apt-get install chromium)`);
    return;
  }
  await mkdir(ARTIFACTS, { recursive: true });
  // The master key file the KMS keys made in the browser are sealed under.
  const masterKeys = await masterKeyFile();
  t.teardown(() => masterKeys.remove());
  const cluster = await startCluster({ gatewayOverrides: { sseMasterKeyFile: masterKeys.path } });
  t.teardown(() => cluster.close());
  const s3 = cluster.client();
  const bucket = 'console-photos';
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'photos/cat.jpg', Body: seededBytes(300_000, 1), ContentType: 'image/jpeg' }));
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'photos/2024/dog.jpg', Body: seededBytes(1000, 2) }));
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'readme.txt', Body: 'hello' }));
  // A versioned bucket: a key with two versions under a delete marker, and a live key beside it.
  const versioned = 'console-versions';
  await s3.send(new CreateBucketCommand({ Bucket: versioned }));
  await s3.send(new PutBucketVersioningCommand({ Bucket: versioned, VersioningConfiguration: { Status: 'Enabled' } }));
  const v1 = (await s3.send(new PutObjectCommand({ Bucket: versioned, Key: 'models/net.bin', Body: seededBytes(300_000, 3) }))).VersionId ?? '';
  const v2 = (await s3.send(new PutObjectCommand({ Bucket: versioned, Key: 'models/net.bin', Body: seededBytes(1_000, 4) }))).VersionId ?? '';
  const marker = (await s3.send(new DeleteObjectCommand({ Bucket: versioned, Key: 'models/net.bin' }))).VersionId ?? '';
  const digest = (await s3.send(new PutObjectCommand({ Bucket: versioned, Key: 'models/net.bin.sha256', Body: 'digest' }))).VersionId ?? '';

  const browser: Browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
    protocolTimeout: 120_000,
  });
  t.teardown(() => browser.close());
  const page = await browser.newPage();
  page.setDefaultTimeout(60_000);
  // Confirmations (disabling a key, removing a target) are accepted, as the user would.
  page.on('dialog', (dialog) => void dialog.accept());
  await page.setViewport({ width: 1280, height: 800 });
  const failures: string[] = [];
  page.on('pageerror', (err) => failures.push(String(err)));
  page.on('requestfailed', (request) => {
    // The upload the test cancels is the one request meant to fail.
    if (request.url().includes('/cancelled.bin?') && request.failure()?.errorText === 'net::ERR_ABORTED') return;
    failures.push(`${request.url()}: ${request.failure()?.errorText ?? ''}`);
  });
  page.on('request', (request) => {
    // data: URLs are the browser's own (a date input's calendar icon), not requests.
    if (!request.url().startsWith(cluster.consoleEndpoint) && !request.url().startsWith('data:')) failures.push(`request outside the gateway: ${request.url()}`);
  });
  const shot = async (name: string): Promise<void> => {
    await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
  };

  await page.goto(`${cluster.consoleEndpoint}/-/console/`);
  await page.waitForSelector('#signin:not([hidden])');
  const signIn = async (secret: string): Promise<void> => {
    await page.$eval('#signin input[name=accessKeyId]', (el, v) => ((el as unknown as { value: string }).value = v), TEST_CREDENTIALS.accessKeyId);
    await page.$eval('#signin input[name=secretAccessKey]', (el, v) => ((el as unknown as { value: string }).value = v), secret);
    await page.click('#signin button[type=submit]');
  };
  await signIn('not-the-secret');
  await page.waitForFunction("(document.getElementById('signin-error')?.textContent ?? '') !== ''");
  t.match(await page.$eval('#signin-error', (el) => el.textContent), /not correct/, 'a wrong secret is refused');
  t.equal(await page.$eval('#nav', (el) => (el as unknown as { hidden: boolean }).hidden), true, 'nothing is shown before sign-in');
  await shot('0-sign-in-refused');

  await signIn(TEST_CREDENTIALS.secretAccessKey);
  await page.waitForSelector('#nodes');
  const nodes = await rows(page, 'nodes');
  t.equal(nodes.length, 6, 'six nodes on the overview');
  t.ok(nodes.every((row) => row[3] === 'ok'), 'every node is up');
  t.ok(nodes.every((row) => /\d+ \(\d+\)/.test(row[7] ?? '')), 'ring slots and their ideal share per node');
  t.match(await page.$eval('#who', (el) => el.textContent), new RegExp(TEST_CREDENTIALS.accessKeyId), 'the signed-in user is shown');
  await shot('1-overview');

  await page.goto(`${cluster.consoleEndpoint}/-/console/#/healing`);
  await page.waitForSelector('#healing');
  const healing = await rows(page, 'healing');
  t.equal(healing.length, 6, 'healing figures of every node');
  t.ok(healing.every((row) => /\d+%/.test(row[1] ?? '')), 'scrub progress per node');
  await shot('2-healing');

  await page.goto(`${cluster.consoleEndpoint}/-/console/#/buckets`);
  await page.waitForSelector('#buckets');
  t.ok((await rows(page, 'buckets')).some((row) => row[0] === bucket), 'the bucket is listed');
  await page.click(`#buckets a[href="#/buckets/${bucket}/"]`);
  await page.waitForSelector('#objects');
  t.same((await rows(page, 'objects')).map((row) => row[0]), ['photos/', 'readme.txt'], 'the top level: a prefix and an object');
  await page.click('#objects a[href$="/photos/"]');
  await page.waitForFunction("[...document.querySelectorAll('#objects td')].some((td) => td.textContent === 'cat.jpg')");
  const photos = await rows(page, 'objects');
  t.same(photos.map((row) => row[0]), ['2024/', 'cat.jpg'], 'browsing by prefix');
  t.equal(photos[1]?.[1], '300.0 KB', 'with the size');
  await shot('3-objects');

  await page.click('#objects a[href*="cat.jpg"]');
  await page.waitForSelector('#shards');
  const shards = await rows(page, 'shards');
  t.equal(shards.length, 6, 'one row per shard');
  t.same(shards.map((row) => row[1]), ['data', 'data', 'data', 'data', 'parity', 'parity']);
  t.ok(shards.every((row) => row[4] === 'ok'), 'every shard verified ok');
  t.equal(new Set(shards.map((row) => row[2])).size, 6, 'on six distinct nodes');
  t.same(shards.map((row) => row[6]), [...Array(4).fill('read rebuilds from parity'), 'no effect', 'no effect'], 'what losing each node would mean');
  await shot('4-object-shard-map');

  // Versions: a key hidden by a delete marker is reached through the version listing, and every version has a shard map.
  await page.goto(`${cluster.consoleEndpoint}/-/console/#/buckets/${versioned}/models/`);
  await page.waitForSelector('#objects');
  t.same((await rows(page, 'objects')).map((row) => row[0]), ['net.bin.sha256'], 'the deleted key is hidden from the plain listing');
  await page.click('#show-versions');
  await page.waitForSelector('#prefix-versions');
  const listed = await rows(page, 'prefix-versions');
  t.same(
    listed.map((row) => [row[0], row[1], row[2], row[3]]),
    [
      ['net.bin', marker, 'latest', 'delete marker'],
      ['net.bin', v2, '', 'object'],
      ['net.bin', v1, '', 'object'],
      ['net.bin.sha256', digest, 'latest', 'object'],
    ],
    'every version and delete marker under the prefix, newest first',
  );
  await shot('6-prefix-versions');
  await page.click(`#prefix-versions a[href$="?version=${v1}"]`);
  await page.waitForFunction(`document.getElementById('shown-version')?.textContent === '${v1}'`);
  const oldShards = await rows(page, 'shards');
  t.equal(oldShards.length, 6, 'the noncurrent version has its own shard map');
  t.ok(oldShards.every((row) => row[4] === 'ok'), 'each of its shards read back through its checksums');
  t.ok(oldShards.every((row) => row[5] === '75.0 KB'), 'each a quarter of 300 KB');
  const versions = await rows(page, 'versions');
  t.same(
    versions.map((row) => [row[0], row[1], row[2], row[5]]),
    [
      [marker, 'latest', 'delete marker', 'open'],
      [v2, '', 'object', 'open'],
      [v1, '', 'object', 'shown above'],
    ],
    'the key\'s versions, newest first, the one shown marked',
  );
  t.equal(await page.$eval('#versions tr.selected td', (td) => td.textContent), v1, 'the shown version is highlighted');
  await shot('7-version-shard-map');
  await page.click(`#versions a[href$="?version=${v2}"]`);
  await page.waitForFunction(`document.getElementById('shown-version')?.textContent === '${v2}'`);
  t.ok((await rows(page, 'shards')).every((row) => row[4] === 'ok' && row[5] === '250 B'), 'the other version\'s shards');
  await page.click(`#versions a[href$="?version=${marker}"]`);
  await page.waitForSelector('#marker-note');
  t.match(await page.$eval('#marker-note', (el) => el.textContent), /delete marker: it holds no data/, 'a delete marker says it holds no data');
  t.equal(await page.$('#shards'), null, 'and shows no shard map');
  await shot('8-delete-marker');
  const badVersion = await page.evaluate(async (b) => (await fetch(`/-/console/api/object?bucket=${b}&key=models%2Fnet.bin&versionId=nope`)).status, versioned);
  t.equal(badVersion, 404, 'a malformed version id is the caller\'s error, not the cluster\'s');

  // Management, each action through the browser and then checked through S3 with the SDK.
  const made = 'made-in-browser';
  await page.goto(`${cluster.consoleEndpoint}/-/console/#/buckets`);
  await page.waitForSelector('#create-bucket');
  await page.type('#create-bucket input[name=bucket]', made);
  await page.click('#create-bucket button[type=submit]');
  await page.waitForSelector('#upload');
  await s3.send(new HeadBucketCommand({ Bucket: made }));
  t.pass('a bucket created in the browser exists for S3');
  const files = await mkdtemp(join(tmpdir(), 'console-upload-'));
  t.teardown(() => rm(files, { recursive: true, force: true }));
  const small = seededBytes(100_000, 7);
  // Over the 5 MiB part size: two parts through S3's multipart calls.
  const large = seededBytes(6 * 1024 * 1024 + 123, 8);
  await writeFile(join(files, 'small.bin'), small);
  await writeFile(join(files, 'large.bin'), large);
  const picker = await page.$('#upload-files');
  await picker?.uploadFile(join(files, 'small.bin'), join(files, 'large.bin'));
  await page.click('#upload-start');
  await page.waitForFunction("[...document.querySelectorAll('#objects td')].some((td) => td.textContent === 'large.bin')");
  const readBack = async (key: string): Promise<{ body: Buffer; etag: string }> => {
    const got = await s3.send(new GetObjectCommand({ Bucket: made, Key: key }));
    return { body: Buffer.from(await got.Body!.transformToByteArray()), etag: got.ETag ?? '' };
  };
  t.ok((await readBack('small.bin')).body.equals(small), 'the uploaded bytes read back through S3');
  const largeBack = await readBack('large.bin');
  t.ok(largeBack.body.equals(large), "the large file's bytes too");
  t.match(largeBack.etag, /-2"$/, 'uploaded in two parts');
  await shot('9-objects-manage');

  // A folder: each file under its path below the folder, the folder's name first, keys with spaces too.
  const folder = join(files, 'photos');
  await mkdir(join(folder, '2024'), { recursive: true });
  const inFolder = { 'photos/2024/a b.txt': seededBytes(1_000, 9), 'photos/c.txt': seededBytes(2_000, 10) };
  for (const [key, bytes] of Object.entries(inFolder)) await writeFile(join(files, key), bytes);
  await (await page.$('#upload-folder'))?.uploadFile(folder);
  // Chromium reads a chosen folder's files in the background, as after a user's pick.
  await page.waitForFunction("document.getElementById('upload-folder').files.length === 2");
  await page.click('#upload-start');
  const stored = async (key: string): Promise<boolean> => s3.send(new HeadObjectCommand({ Bucket: made, Key: key })).then(() => true, () => false);
  await until("the folder's files are stored", async () => (await stored('photos/2024/a b.txt')) && (await stored('photos/c.txt')), 30_000);
  for (const [key, bytes] of Object.entries(inFolder)) t.ok((await readBack(key)).body.equals(bytes), `a folder's file reads back through S3 as ${key}`);

  // Cancel: a slowed upload is stopped, and its multipart upload aborted, leaving nothing.
  const client = await page.createCDPSession();
  await client.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 512 * 1024 });
  await writeFile(join(files, 'cancelled.bin'), large);
  await (await page.$('#upload-files'))?.uploadFile(join(files, 'cancelled.bin'));
  await page.click('#upload-start');
  await page.waitForFunction("Number(document.getElementById('upload-progress')?.value) > 0");
  await page.click('#upload-cancel');
  await page.waitForFunction("(document.getElementById('upload-status')?.textContent ?? '').startsWith('Cancelled')");
  await client.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
  await until('the cancelled upload is aborted', async () => ((await s3.send(new ListMultipartUploadsCommand({ Bucket: made }))).Uploads ?? []).length === 0, 20_000);
  await t.rejects(s3.send(new HeadObjectCommand({ Bucket: made, Key: 'cancelled.bin' })), { name: 'NotFound' }, 'a cancelled upload leaves no object');

  // Settings: the policy editor checks JSON in the page, shows S3's own refusal, and a saved policy is in force.
  await page.goto(`${cluster.consoleEndpoint}/-/console/#/settings/${made}`);
  await page.waitForSelector('#policy-text');
  const setText = (selector: string, value: string) => page.$eval(selector, (el, v) => ((el as unknown as { value: string }).value = v), value);
  await setText('#policy-text', '{ not json');
  await page.click('#policy-save');
  await page.waitForFunction("(document.getElementById('policy-status')?.textContent ?? '').startsWith('Not valid JSON')");
  await setText('#policy-text', '{"Statement": 5}');
  await page.click('#policy-save');
  await page.waitForFunction("(document.getElementById('policy-status')?.textContent ?? '').startsWith('MalformedPolicy')");
  t.pass("a policy S3 refuses shows S3's MalformedPolicy");
  const publicRead = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${made}/*` }] }, null, 2);
  await setText('#policy-text', publicRead);
  await page.click('#policy-save');
  await page.waitForFunction("document.getElementById('policy-status')?.textContent === 'Saved.'");
  const anonymousRead = await fetch(`${cluster.endpoint}/${made}/small.bin`);
  t.equal(anonymousRead.status, 200, 'the saved policy is in force: an unsigned GET reads the object');
  await anonymousRead.arrayBuffer();
  await page.click('#versioning-toggle');
  await page.waitForFunction("document.getElementById('versioning')?.textContent === 'Enabled'");
  t.equal((await s3.send(new GetBucketVersioningCommand({ Bucket: made }))).Status, 'Enabled', 'versioning enabled in the browser');
  // The quota: two objects are in the bucket, so a limit of two refuses the third write.
  await page.type('#quota input[name=maxObjects]', '2');
  await page.click('#quota button[type=submit]');
  await page.waitForFunction("document.getElementById('quota-status')?.textContent === 'Saved.'");
  await t.rejects(s3.send(new PutObjectCommand({ Bucket: made, Key: 'third.bin', Body: 'x' })), { name: 'QuotaExceeded' }, 'the quota set in the browser is in force');
  await shot('10-bucket-settings');
  await page.click('#quota-clear');
  await page.waitForFunction("document.querySelector('#quota input[name=maxObjects]')?.value === ''");
  await s3.send(new PutObjectCommand({ Bucket: made, Key: 'third.bin', Body: 'x' }));
  t.pass('and cleared there, the write passes');

  // Object details: a previous version restored, tags and metadata set, each checked through S3.
  await s3.send(new PutObjectCommand({ Bucket: made, Key: 'small.bin', Body: 'overwritten' }));
  await page.goto(`${cluster.consoleEndpoint}/-/console/#/item/${made}/small.bin`);
  await page.waitForSelector('#item-versions button.restore');
  await page.click('#item-versions button.restore');
  await until('the old version is current again', async () => (await readBack('small.bin')).body.equals(small), 20_000);
  t.pass('restoring copies the previous version over the current one');
  // The page shows the restored version once it has rendered again: the first, the overwrite and the copy.
  await page.waitForFunction("document.querySelectorAll('#item-versions tr').length === 4");
  await setText('#item-tags', 'team=ml\nstage=raw');
  await page.click('#item-tags-save');
  await page.waitForFunction("document.getElementById('item-status')?.textContent === 'Tags saved.'");
  const tagSet = (await s3.send(new GetObjectTaggingCommand({ Bucket: made, Key: 'small.bin' }))).TagSet ?? [];
  t.same(Object.fromEntries(tagSet.map((tg) => [tg.Key, tg.Value])), { team: 'ml', stage: 'raw' }, 'tags set in the browser');
  await setText('#item-meta', 'owner: alice');
  await page.click('#item-meta-save');
  await until('the metadata is replaced', async () => (await s3.send(new HeadObjectCommand({ Bucket: made, Key: 'small.bin' }))).Metadata?.['owner'] === 'alice', 20_000);
  t.ok((await readBack('small.bin')).body.equals(small), 'replacing metadata keeps the bytes');
  await page.waitForFunction("(document.getElementById('item-meta')?.value ?? '').includes('owner: alice')");
  await shot('13-object-details');

  // A key with more versions than the page shows at first: 100 of them, then the rest on asking, in
  // S3's order, and none of a longer key beside it.
  for (let i = 0; i < 102; i += 1) await s3.send(new PutObjectCommand({ Bucket: versioned, Key: 'many.txt', Body: `v${i}` }));
  await s3.send(new PutObjectCommand({ Bucket: versioned, Key: 'many.txt.old', Body: 'another key' }));
  await page.goto(`${cluster.consoleEndpoint}/-/console/#/item/${versioned}/many.txt`);
  await page.waitForSelector('#more-versions');
  t.equal((await rows(page, 'item-versions')).length, 100, 'the first 100 versions');
  await page.click('#more-versions');
  await page.waitForFunction("document.querySelectorAll('#item-versions tr').length === 103");
  const manyVersions = ((await s3.send(new ListObjectVersionsCommand({ Bucket: versioned, Prefix: 'many.txt' }))).Versions ?? []).filter((v) => v.Key === 'many.txt').map((v) => v.VersionId);
  t.same((await rows(page, 'item-versions')).map((row) => row[0]), manyVersions, 'then all 102, newest first as S3 lists them');
  t.equal(await page.$('#more-versions'), null, 'and nothing more to show');

  // Identity: a user made in the browser, its secret shown once, given the read-only policy, signs S3 requests.
  await page.goto(`${cluster.consoleEndpoint}/-/console/#/identity`);
  await page.waitForSelector('#create-user');
  await page.type('#create-user input[name=user]', 'browser-user');
  await page.click('#create-user button[type=submit]');
  await page.waitForSelector('#new-secret-key');
  const madeKeys = {
    accessKeyId: await page.$eval('#new-access-key', (el) => el.textContent ?? ''),
    secretAccessKey: await page.$eval('#new-secret-key', (el) => el.textContent ?? ''),
  };
  await page.click('#secret-done');
  await page.waitForSelector('#users tr[data-user="browser-user"] input.attach-name');
  await page.type('#users tr[data-user="browser-user"] input.attach-name', 'readonly');
  await page.click('#users tr[data-user="browser-user"] button.attach');
  await page.waitForSelector('#users tr[data-user="browser-user"] span.policy[data-policy="readonly"]');
  await shot('11-identity');
  const userS3 = localS3Client(cluster.endpoint, madeKeys, { maxAttempts: 1 });
  t.teardown(() => userS3.destroy());
  await until('the browser-made user signs requests', async () => (await userS3.send(new GetObjectCommand({ Bucket: made, Key: 'small.bin' })).catch(() => undefined)) !== undefined, 20_000);
  await t.rejects(userS3.send(new PutObjectCommand({ Bucket: made, Key: 'x', Body: 'x' })), { name: 'AccessDenied' }, 'and its read-only policy is in force');

  // Targets & keys: an event target and a replication target added in the browser, then named by the
  // bucket's settings there, each in force through S3; a KMS key made, disabled and enabled there.
  const hooked: string[] = [];
  const hook = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      hooked.push(body);
      response.end();
    });
  });
  await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => hook.close(() => resolve())));
  const replicas = 'made-replicas';
  await s3.send(new CreateBucketCommand({ Bucket: replicas }));
  await page.goto(`${cluster.consoleEndpoint}/-/console/#/services`);
  await page.waitForSelector('#add-target');
  const addTarget = async (name: string, type: string, definition: object): Promise<void> => {
    await page.select('#target-type', type);
    await page.type('#add-target input[name=name]', name);
    await setText('#target-definition', JSON.stringify(definition));
    await page.click('#add-target button[type=submit]');
    await page.waitForSelector(`#targets tr[data-target="${name}"]`);
  };
  await addTarget('ops-hook', 'webhook', { type: 'webhook', url: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`, bearerToken: 'hook-bearer-secret' });
  await addTarget('site-b', 's3', { type: 's3', endpoint: cluster.endpoint, bucket: replicas, accessKeyId: TEST_CREDENTIALS.accessKeyId, secretAccessKey: TEST_CREDENTIALS.secretAccessKey });
  t.same((await rows(page, 'targets')).map((row) => row.slice(0, 3)), [
    ['ops-hook', 'arn:tessera:sqs::ops-hook:webhook', 'webhook'],
    ['site-b', `arn:tessera:replication::site-b:${replicas}`, 's3'],
  ], 'both targets listed with their ARNs');
  const shown = await page.content();
  t.notOk(shown.includes('hook-bearer-secret') || shown.includes(TEST_CREDENTIALS.secretAccessKey), 'no secret of a target is shown again');
  await page.type('#create-kms-key input[name=name]', 'browser-key');
  await page.click('#create-kms-key button[type=submit]');
  await page.waitForSelector('#kms-keys tr[data-key="browser-key"]');
  const sealedPut = (): Promise<unknown> => s3.send(new PutObjectCommand({ Bucket: made, Key: 'sealed.bin', Body: 'sealed', ServerSideEncryption: 'aws:kms', SSEKMSKeyId: 'browser-key' }));
  await sealedPut();
  t.pass('a KMS key made in the browser seals an S3 write');
  await page.click('#kms-keys tr[data-key="browser-key"] button.kms-toggle');
  await page.waitForFunction("document.querySelector('#kms-keys tr[data-key=\"browser-key\"] td:nth-child(3)')?.textContent === 'Disabled'");
  await t.rejects(sealedPut(), { name: 'KMS.DisabledException' }, 'disabled in the browser, it refuses writes');
  await page.click('#kms-keys tr[data-key="browser-key"] button.kms-toggle');
  await page.waitForFunction("document.querySelector('#kms-keys tr[data-key=\"browser-key\"] td:nth-child(3)')?.textContent === 'Enabled'");
  await sealedPut();
  await shot('14-targets-and-keys');

  await page.goto(`${cluster.consoleEndpoint}/-/console/#/settings/${made}`);
  await page.waitForSelector('#doc-replication-save');
  t.match(await page.$eval('#doc-notification', (el) => (el as unknown as { value: string }).value), /arn:tessera:sqs::ops-hook:webhook/, "the notification example names the cluster's event target");
  await page.click('#doc-notification-save');
  await page.waitForFunction("document.getElementById('doc-notification-status')?.textContent === 'Saved.'");
  await page.click('#doc-replication-save');
  await page.waitForFunction("document.getElementById('doc-replication-status')?.textContent === 'Saved.'");
  const notification = await s3.send(new GetBucketNotificationConfigurationCommand({ Bucket: made }));
  t.same(notification.QueueConfigurations?.map((q) => [q.QueueArn, q.Events]), [['arn:tessera:sqs::ops-hook:webhook', ['s3:ObjectCreated:*']]], 'the notification saved in the browser, read through S3');
  const replication = await s3.send(new GetBucketReplicationCommand({ Bucket: made }));
  t.equal(replication.ReplicationConfiguration?.Rules?.[0]?.Destination?.Bucket, `arn:tessera:replication::site-b:${replicas}`, 'the replication rule saved in the browser, read through S3');
  await s3.send(new PutObjectCommand({ Bucket: made, Key: 'replicated.txt', Body: 'to site b' }));
  // The rule is in force: the new version waits for replication (this test cluster's nodes run no
  // replicator; test/integration/replication.test.ts follows versions across two clusters).
  t.equal((await s3.send(new HeadObjectCommand({ Bucket: made, Key: 'replicated.txt' }))).ReplicationStatus, 'PENDING', 'the rule selects the new version');
  await until('the write reaches the webhook', async () => hooked.some((body) => body.includes('replicated.txt')), 60_000);
  t.pass('the notification is in force: the write is announced to the target');
  await shot('15-bucket-events-replication');

  // The read-only user, in a browser of its own: no button whose request would fail, no cluster or identity pages.
  const context = await browser.createBrowserContext();
  const reader = await context.newPage();
  reader.setDefaultTimeout(60_000);
  await reader.setViewport({ width: 420, height: 800 });
  await reader.goto(`${cluster.consoleEndpoint}/-/console/`);
  await reader.waitForSelector('#signin:not([hidden])');
  await reader.type('#signin input[name=accessKeyId]', madeKeys.accessKeyId);
  await reader.type('#signin input[name=secretAccessKey]', madeKeys.secretAccessKey);
  await reader.click('#signin button[type=submit]');
  await reader.waitForSelector('#buckets');
  await reader.goto(`${cluster.consoleEndpoint}/-/console/#/buckets/${made}/`);
  await reader.waitForFunction("[...document.querySelectorAll('#objects td')].some((td) => td.textContent === 'small.bin')");
  t.equal(await reader.$('#upload'), null, 'no upload form');
  t.equal(await reader.$('#objects button.delete'), null, 'no delete buttons');
  t.equal(await reader.$('#bucket-settings'), null, 'no bucket settings');
  t.ok(await reader.$('#objects a.download'), 'but downloads');
  t.same(await reader.$$eval('#nav a:not([hidden])', (links) => links.map((a) => a.textContent)), ['Buckets'], 'only the buckets page in the menu');
  await reader.screenshot({ path: join(ARTIFACTS, '12-read-only-user-narrow.png'), fullPage: true });
  // CSRF: a change without the console's header is refused, even from the signed-in page itself.
  t.equal(await reader.evaluate(async () => (await fetch('/-/console/s3/csrf-bucket', { method: 'PUT' })).status), 403, 'a header-less change is refused');
  // Without admin:ServerInfo, every version under a prefix comes from S3's ListObjectVersions.
  await reader.click('#show-versions');
  await reader.waitForSelector('#prefix-versions');
  const smallVersions = ((await s3.send(new ListObjectVersionsCommand({ Bucket: made, Prefix: 'small.bin' }))).Versions ?? []).filter((v) => v.Key === 'small.bin').map((v) => v.VersionId);
  const readerRows = (await rows(reader, 'prefix-versions')).filter((row) => row[0] === 'small.bin');
  t.same(readerRows.map((row) => row[1]), smallVersions, "a reader lists a key's versions, as S3 orders them");
  t.match(await reader.$eval('#prefix-versions a[href*="small.bin"]', (a) => a.getAttribute('href')), /^#\/item\//, 'each opens the object details, not the shard map');
  await context.close();

  // The rest of the management actions, each checked through S3: legal hold and retention, lifecycle and
  // CORS documents saved and removed, a share link, deleting an object, a version, and a non-empty bucket.
  const locked = 'console-locked';
  await s3.send(new CreateBucketCommand({ Bucket: locked, ObjectLockEnabledForBucket: true }));
  await s3.send(new PutObjectCommand({ Bucket: locked, Key: 'contract.pdf', Body: 'signed' }));
  await page.goto(`${cluster.consoleEndpoint}/-/console/#/item/${locked}/contract.pdf`);
  await page.waitForSelector('#item-hold-toggle');
  await page.click('#item-hold-toggle');
  await page.waitForFunction("document.getElementById('item-hold')?.textContent === 'ON'");
  t.equal((await s3.send(new GetObjectLegalHoldCommand({ Bucket: locked, Key: 'contract.pdf' }))).LegalHold?.Status, 'ON', 'a legal hold set in the browser');
  const until2 = new Date(Date.now() + 3 * 86_400_000).toISOString().slice(0, 10);
  await page.$eval('#item-retain input[name=until]', (el, v) => ((el as unknown as { value: string }).value = v), until2);
  await page.click('#item-retain button[type=submit]');
  await page.waitForFunction("(document.getElementById('item-retention')?.textContent ?? '').startsWith('GOVERNANCE')");
  const retention = (await s3.send(new GetObjectRetentionCommand({ Bucket: locked, Key: 'contract.pdf' }))).Retention;
  t.same([retention?.Mode, retention?.RetainUntilDate?.toISOString().slice(0, 10)], ['GOVERNANCE', until2], 'a retention set in the browser');

  await page.goto(`${cluster.consoleEndpoint}/-/console/#/settings/${made}`);
  await page.waitForSelector('#doc-lifecycle-save');
  await page.click('#doc-lifecycle-save');
  await page.waitForFunction("document.getElementById('doc-lifecycle-status')?.textContent === 'Saved.'");
  await page.click('#doc-cors-save');
  await page.waitForFunction("document.getElementById('doc-cors-status')?.textContent === 'Saved.'");
  t.equal((await s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: made }))).Rules?.[0]?.ID, 'expire-tmp', 'a lifecycle rule saved in the browser');
  t.same((await s3.send(new GetBucketCorsCommand({ Bucket: made }))).CORSRules?.[0]?.AllowedOrigins, ['https://example.com'], 'a CORS rule saved in the browser');
  await page.reload();
  await page.waitForSelector('#doc-cors-remove');
  await page.click('#doc-cors-remove');
  await until('the CORS configuration is removed', async () => s3.send(new GetBucketCorsCommand({ Bucket: made })).then(() => false, (err: Error) => err.name === 'NoSuchCORSConfiguration'), 20_000);
  t.pass('and removed there');

  await page.goto(`${cluster.consoleEndpoint}/-/console/#/buckets/${made}/`);
  await page.waitForSelector('#objects button.share');
  const clickInRow = (key: string, button: string): Promise<void> =>
    page.$$eval('#objects tr', (trs, k, b) => {
      const row = trs.find((tr) => tr.querySelector('td')?.textContent === k);
      (row?.querySelector(b) as unknown as { click(): void } | null)?.click();
    }, key, button);
  await clickInRow('small.bin', 'button.share');
  await page.click('#share-make');
  await page.waitForFunction("(document.getElementById('share-url')?.value ?? '') !== ''");
  const link = await page.$eval('#share-url', (el) => (el as unknown as { value: string }).value);
  const sharedRead = await fetch(link);
  t.ok(Buffer.from(await sharedRead.arrayBuffer()).equals(small), 'a share link made in the browser reads the object without signing in');
  await clickInRow('third.bin', 'button.delete');
  await until('the object is deleted', async () => !(await stored('third.bin')), 20_000);
  t.pass('an object deleted in the browser is gone for S3');

  await page.goto(`${cluster.consoleEndpoint}/-/console/#/item/${made}/small.bin`);
  await page.waitForSelector('#item-versions button.delete-version');
  const versionsOf = async (): Promise<string[]> => ((await s3.send(new ListObjectVersionsCommand({ Bucket: made, Prefix: 'small.bin' }))).Versions ?? []).filter((v) => v.Key === 'small.bin').map((v) => v.VersionId ?? '');
  const oldest = await page.$$eval('#item-versions tr', (trs) => trs.at(-1)?.querySelector('td')?.textContent ?? '');
  t.ok((await versionsOf()).includes(oldest), 'the oldest version is listed');
  await page.$$eval('#item-versions tr', (trs) => (trs.at(-1)?.querySelector('button.delete-version') as unknown as { click(): void }).click());
  await until('the version is deleted', async () => !(await versionsOf()).includes(oldest), 20_000);
  t.pass('a version deleted in the browser is gone for S3');

  await page.goto(`${cluster.consoleEndpoint}/-/console/#/settings/${made}`);
  await page.waitForSelector('#delete-bucket');
  await page.click('#delete-bucket button[type=submit]');
  await page.waitForFunction("(document.getElementById('delete-status')?.textContent ?? '').startsWith('The bucket is not empty')");
  await s3.send(new HeadBucketCommand({ Bucket: made }));
  t.pass('a non-empty bucket is kept until its name is typed');
  await page.type('#delete-confirm', made);
  await page.click('#delete-bucket button[type=submit]');
  await page.waitForSelector('#buckets');
  await t.rejects(s3.send(new HeadBucketCommand({ Bucket: made })), { name: 'NotFound' }, 'typed, the bucket and every version in it are deleted');

  // A page name is one of the console's own: a link to '#/constructor/<markup>' shows the overview,
  // never the markup (inherited members of the page table once rendered their arguments as HTML).
  await page.goto(`${cluster.consoleEndpoint}/-/console/#/constructor/${encodeURIComponent('<b id="injected">x</b>')}`);
  await page.reload();
  await page.waitForSelector('#nodes');
  t.equal(await page.$('#injected'), null, 'no markup from the link is on the page');

  // A stopped node shows on the overview and in the shard map.
  await cluster.stopNode(0);
  await page.goto(`${cluster.consoleEndpoint}/-/console/#/overview`);
  await page.reload();
  await page.waitForSelector('#nodes');
  t.equal((await rows(page, 'nodes')).find((row) => row[0] === 'node-0')?.[3], 'unreachable', 'a stopped node is unreachable');
  await shot('5-overview-node-down');

  t.same(failures, [], 'no script errors, failed requests, or requests outside the gateway');
  // Signing out ends the session: the API answers 401 and the sign-in form returns.
  await page.click('#signout');
  await page.waitForSelector('#signin:not([hidden])');
  const status = await page.evaluate(async () => (await fetch('/-/console/api/overview')).status);
  t.equal(status, 401, 'signed out');
});
