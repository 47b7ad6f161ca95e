import { t, type Test } from 'tap';
import { Client } from 'undici';
import { silentLogger } from '../../src/common/index.js';
import { DATE_HEADER, NODE_PATHS, NodeClient, SIGNATURE_HEADER, UNSIGNED_BODY, signRequest, type ShardRef } from '../../src/rpc/index.js';
import { StorageNode } from '../../src/storage-node/index.js';
import { collect, seededBytes } from '../helpers/bytes.js';
import { recordFor, tempDir } from '../storage-node/store-fixture.js';

/**
 * The replay guard of a storage node against a captured signed shard write, over real HTTP. A node
 * must take each signed header in its one canonical form only, remember a signature by its decoded
 * bytes, and never let a prepare replace the shard a committed version names: otherwise one captured
 * gateway write, sent again after its commit in a form that still verifies, changes what reads return.
 */

const SECRET = 'node-replay-test-secret';
const ERASURE = { dataShards: 4, parityShards: 2, blockSizeBytes: 65536 } as const;
/** Past the inline threshold below, with segments off: the shard is a file of its own, the path the finding went through. */
const FILE_SHARD_BYTES = 5000;
const INLINE_MAX_SHARD_BYTES = 1000;

type Headers = Record<string, string | string[]>;

/** A node on port 0 in its own directory, with nothing in the background, and a client that signs as a gateway does. */
async function startNode(t: Test, name: string): Promise<{ port: number; client: NodeClient }> {
  const dataDir = await tempDir(t, name);
  const node = new StorageNode({
    nodeId: 'n0',
    dataDir,
    host: '127.0.0.1',
    port: 0,
    clusterSecret: SECRET,
    logger: silentLogger(),
    inlineMaxShardBytes: INLINE_MAX_SHARD_BYTES,
    segmentMaxShardBytes: 0,
    resolveEveryMs: 0,
    healing: false,
  });
  const { port } = await node.start();
  const client = new NodeClient({ nodeId: 'n0', address: `127.0.0.1:${port}`, clusterSecret: SECRET });
  t.teardown(async () => {
    await client.close();
    await node.close();
  });
  return { port, client };
}

/** PUT /v1/shards with exactly these headers (a repeated one as several lines); the status and body text. */
async function sendShard(port: number, path: string, headers: Headers, body: Buffer): Promise<{ status: number; text: string }> {
  const client = new Client(`http://127.0.0.1:${port}`);
  try {
    const response = await client.request({ path, method: 'PUT', headers, body });
    return { status: response.statusCode, text: await response.body.text() };
  } finally {
    await client.close();
  }
}

/** The target of a gateway's shard write of `ref`: a client write's new data id, so marked fresh. */
function shardPath(ref: ShardRef): string {
  return `${NODE_PATHS.shards}?bucket=${ref.bucket}&key=${ref.key}&version=${ref.versionId}&shard=${ref.shardIndex}&k=4&m=2&block=65536&fresh=1`;
}

/** A version id for the n-th key of a test (the node refuses nothing by its age). */
function refFor(key: string): ShardRef {
  return { bucket: 'b', key, versionId: '0000000000010000aaaaaaaa', shardIndex: 0 };
}

async function readBack(client: NodeClient, ref: ShardRef, sizeBytes: number): Promise<Buffer> {
  return collect(await client.readShard(ref, 0, sizeBytes));
}

/**
 * What an attacker on the wire holds after a gateway wrote and committed one shard: the signed
 * headers of that write (already used once), and the bytes every read returns since.
 */
async function capturedWrite(client: NodeClient, port: number, ref: ShardRef, sizeBytes = FILE_SHARD_BYTES): Promise<{ path: string; captured: Record<string, string>; original: Buffer }> {
  const path = shardPath(ref);
  const captured = signRequest(SECRET, 'PUT', path, UNSIGNED_BODY, Date.now(), 'n0');
  const original = seededBytes(sizeBytes, 1);
  const first = await sendShard(port, path, captured, original);
  if (first.status !== 200) throw new Error(`the original write failed: ${first.status} ${first.text}`);
  await client.commit({ record: recordFor(ref, sizeBytes * ERASURE.dataShards), shardIndex: ref.shardIndex });
  return { path, captured, original };
}

/** The captured signature in forms a lenient hex decoder reads as the same 32 bytes. */
const SIGNATURE_VARIANTS: [string, (signature: string) => string | string[]][] = [
  ['uppercased', (signature) => signature.toUpperCase()],
  ['with one letter uppercased', (signature) => signature.replace(/[a-f]/, (letter) => letter.toUpperCase())],
  ['with a 0 appended', (signature) => `${signature}0`],
  ['with trailing garbage', (signature) => `${signature}zz`],
  ['sent twice, as a repeated header', (signature) => [signature, signature]],
  ['sent twice, the second value garbage', (signature) => [signature, 'not-a-signature']],
];

for (const [name, variant] of SIGNATURE_VARIANTS) {
  t.test(`a captured shard write replayed after its commit with its signature ${name} is refused with 401 and the committed bytes stay`, async (t) => {
    const { port, client } = await startNode(t, 'replay-variant');
    const ref = refFor('variant');
    const { path, captured, original } = await capturedWrite(client, port, ref);
    const forged = seededBytes(FILE_SHARD_BYTES, 2);
    const replay = await sendShard(port, path, { ...captured, [SIGNATURE_HEADER]: variant(captured[SIGNATURE_HEADER] as string) }, forged);
    t.equal(replay.status, 401, 'the variant is refused as a signature failure');
    t.ok((await readBack(client, ref, FILE_SHARD_BYTES)).equals(original), 'a read returns the committed bytes');
  });
}

/** The signed time in forms Number() reads as the same instant. */
const DATE_VARIANTS: [string, (date: string) => string][] = [
  ['with a leading zero', (date) => `0${date}`],
  ['with a plus sign', (date) => `+${date}`],
  ['with a decimal point', (date) => `${date}.0`],
  ['in exponent notation', (date) => `${Number(date) / 1000}e3`],
  ['in hex', (date) => `0x${Number(date).toString(16)}`],
];

for (const [name, variant] of DATE_VARIANTS) {
  t.test(`a signed shard write whose date is sent ${name} is refused with 401 and changes nothing`, async (t) => {
    const { port, client } = await startNode(t, 'replay-date');
    const ref = refFor('dated');
    const { path, original } = await capturedWrite(client, port, ref);
    // A signature never sent before (one a gateway signed but lost, say): only its date's form is wrong.
    const unsent = signRequest(SECRET, 'PUT', path, UNSIGNED_BODY, Date.now() + 1, 'n0');
    const forged = seededBytes(FILE_SHARD_BYTES, 3);
    const sent = await sendShard(port, path, { ...unsent, [DATE_HEADER]: variant(unsent[DATE_HEADER] as string) }, forged);
    t.equal(sent.status, 401, 'the non-canonical date is refused as a signature failure');
    t.ok((await readBack(client, ref, FILE_SHARD_BYTES)).equals(original), 'a read returns the committed bytes');
  });
}

t.test('the full replay: a captured shard write sent again after its commit, verbatim and in a variant form, does not change what a read returns', async (t) => {
  const { port, client } = await startNode(t, 'replay-full');
  const ref = refFor('full');
  const { path, captured, original } = await capturedWrite(client, port, ref);
  const forged = seededBytes(FILE_SHARD_BYTES, 4);
  const verbatim = await sendShard(port, path, captured, forged);
  t.equal(verbatim.status, 401, 'sent verbatim: refused');
  t.match(verbatim.text, /replayed/);
  const signature = captured[SIGNATURE_HEADER] as string;
  for (const form of [signature.toUpperCase(), `${signature}0`, `${signature}g`, [signature, signature]]) {
    t.equal((await sendShard(port, path, { ...captured, [SIGNATURE_HEADER]: form }, forged)).status, 401, `sent with signature ${JSON.stringify(form).slice(0, 24)}…: refused`);
  }
  // A read through the gateway's own client, and the node's status of the key: both as committed.
  t.ok((await readBack(client, ref, FILE_SHARD_BYTES)).equals(original), 'a read returns the committed bytes');
  const status = await client.objectStatus('b', 'full');
  t.equal(status?.shardSizeBytes, FILE_SHARD_BYTES, 'the committed shard size is unchanged');
});

for (const [kind, sizeBytes] of [['file', FILE_SHARD_BYTES], ['inline', INLINE_MAX_SHARD_BYTES / 2]] as const) {
  t.test(`a validly signed fresh prepare of a committed ${kind} shard is refused and the committed bytes stay the ones read`, async (t) => {
    const { port, client } = await startNode(t, `committed-${kind}`);
    const ref = refFor(`committed-${kind}`);
    const { path, original } = await capturedWrite(client, port, ref, sizeBytes);
    // Signed anew with the cluster secret: whatever the signature, the committed shard is not replaced.
    const again = signRequest(SECRET, 'PUT', path, UNSIGNED_BODY, Date.now() + 2, 'n0');
    const sent = await sendShard(port, path, again, seededBytes(sizeBytes, 5));
    t.equal(sent.status, 409, 'a fresh prepare of a committed shard is a conflict');
    t.ok((await readBack(client, ref, sizeBytes)).equals(original), 'a read returns the committed bytes');
    // Repairs and moves prepare without the fresh mark: a shard already committed is kept, the call succeeds.
    const repeated = path.replace('&fresh=1', '');
    const retried = await sendShard(port, repeated, signRequest(SECRET, 'PUT', repeated, UNSIGNED_BODY, Date.now() + 3, 'n0'), seededBytes(sizeBytes, 6));
    t.equal(retried.status, 200, 'a repeated prepare without the mark succeeds');
    t.ok((await readBack(client, ref, sizeBytes)).equals(original), 'and stores nothing over the committed shard');
  });
}
