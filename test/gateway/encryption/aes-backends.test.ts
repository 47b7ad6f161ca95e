import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { t } from 'tap';
import {
  PACKAGE_PLAIN_BYTES,
  PACKAGE_STORED_BYTES,
  PackageEncryptor,
  decryptRange,
  loadNativePackageCipher,
  resolvePackageCipher,
  storedSize,
  type PackageCipher,
} from '../../../src/gateway/encryption/index.js';
import { collect } from '../../helpers/bytes.js';
import { underCi } from '../../helpers/clients.js';
import { BACKENDS, cut, nativeMissing } from './backends.js';

// The two AES-256-GCM backends (node:crypto and the native addon) side by side: the same stored bytes,
// each opening what the other sealed, neither writing to the pieces it is given; and how the gateway's
// choice between them resolves.

const P = PACKAGE_PLAIN_BYTES;

function seal(cipher: PackageCipher, plain: Uint8Array, dataKey: Buffer, nonce: Buffer, pieces: readonly number[], hint?: number): Promise<Buffer> {
  return collect(new PackageEncryptor(dataKey, nonce, cipher).encrypt(cut(plain, pieces), hint));
}

function open(cipher: PackageCipher, stored: Uint8Array, dataKey: Buffer, nonce: Buffer, plainBytes: number, pieces: readonly number[], offsetBytes = 0, lengthBytes = plainBytes): Promise<Buffer> {
  return collect(decryptRange(cut(stored, pieces), { cipher, dataKey, objectNonce: nonce, plainBytes, offsetBytes, lengthBytes }));
}

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** True when `a` and `b` share bytes (small Buffers share Node's pool, so the same ArrayBuffer alone proves nothing). */
function overlap(a: Uint8Array, b: Uint8Array): boolean {
  return a.buffer === b.buffer && a.byteOffset < b.byteOffset + b.length && b.byteOffset < a.byteOffset + a.length;
}

t.test('under CI the native addon is built, loads and passes its self-test, so a broken build fails here instead of falling back', async (t) => {
  const missing = nativeMissing();
  if (missing !== undefined && !underCi()) {
    t.pass('native backend check skipped', { skip: `${missing}; CI=true makes this a failure` });
    return;
  }
  t.equal(missing, undefined, 'the addon loads and its output matches node:crypto');
  t.same(
    BACKENDS.map((cipher) => cipher.backend),
    ['node', 'native'],
    'the package-format suites run on both backends',
  );
});

t.test('a body sealed by either backend is stored byte for byte the same and opens on the other, at every package edge', async (t) => {
  const dataKey = randomBytes(32);
  const nonce = randomBytes(16);
  // Odd piece sizes straddle package edges, tags included; the hint is right, absent and wrong.
  const cases: { pieces: number[]; hint: 'exact' | 'none' | 'short' }[] = [
    { pieces: [7_919], hint: 'exact' },
    { pieces: [1, P - 2, 3, P + 5], hint: 'none' },
    { pieces: [P + 1], hint: 'short' },
  ];
  for (const size of [0, 1, P - 1, P, P + 1, 3 * P + 17, 1024 * 1024]) {
    const plain = randomBytes(size);
    for (const { pieces, hint } of cases) {
      const expected = { exact: size, none: undefined, short: Math.max(0, size - P) }[hint];
      const sealed = await Promise.all(BACKENDS.map((cipher) => seal(cipher, plain, dataKey, nonce, pieces, expected)));
      const [first] = sealed;
      t.equal(first?.length, storedSize(size), `${size} bytes stored as ${storedSize(size)}`);
      for (const [i, stored] of sealed.entries()) t.equal(sha256(stored), sha256(first as Buffer), `${size} bytes, pieces ${pieces.join('/')}, hint ${hint}: ${BACKENDS[i]?.backend} writes the same bytes`);
      for (const opener of BACKENDS) {
        const opened = await open(opener, first as Buffer, dataKey, nonce, size, [PACKAGE_STORED_BYTES - 3, 5, 1]);
        t.ok(opened.equals(plain), `${opener.backend} opens ${size} bytes sealed by ${BACKENDS[0]?.backend}`);
      }
    }
  }
  if (BACKENDS.length === 1) t.comment(`only node:crypto ran: ${nativeMissing() ?? ''}`);
});

t.test('tampering fails on every backend whichever backend sealed the body', async (t) => {
  const dataKey = randomBytes(32);
  const nonce = randomBytes(16);
  const size = 2 * P + 9;
  const plain = randomBytes(size);
  for (const sealer of BACKENDS) {
    const stored = await seal(sealer, plain, dataKey, nonce, [5_000]);
    const flipped = Buffer.from(stored);
    flipped[P + 3] = (flipped[P + 3] ?? 0) ^ 0x10;
    const swapped = Buffer.concat([stored.subarray(PACKAGE_STORED_BYTES, 2 * PACKAGE_STORED_BYTES), stored.subarray(0, PACKAGE_STORED_BYTES), stored.subarray(2 * PACKAGE_STORED_BYTES)]);
    for (const opener of BACKENDS) {
      const what = `sealed by ${sealer.backend}, opened by ${opener.backend}`;
      await t.rejects(open(opener, flipped, dataKey, nonce, size, [4_099]), { code: 'PackageAuthFailed' }, `a flipped byte, ${what}`);
      await t.rejects(open(opener, swapped, dataKey, nonce, size, [4_099]), { code: 'PackageAuthFailed' }, `two packages swapped, ${what}`);
      await t.rejects(open(opener, stored.subarray(0, stored.length - 1), dataKey, nonce, size, [4_099]), { code: 'PackageAuthFailed' }, `a byte cut off, ${what}`);
    }
  }
});

t.test('sealing and opening never write to the pieces they are given, and hand out buffers of their own', async (t) => {
  const dataKey = randomBytes(32);
  const nonce = randomBytes(16);
  const plain = randomBytes(3 * P + 100);
  for (const cipher of BACKENDS) {
    // Each piece a copy of its own, so a write into one would show in its digest.
    const plainPieces = [...Array(12).keys()].map((i) => Buffer.from(plain.subarray(Math.floor((i * plain.length) / 12), Math.floor(((i + 1) * plain.length) / 12))));
    const plainDigests = plainPieces.map(sha256);
    const sealedPieces: Uint8Array[] = [];
    for await (const piece of new PackageEncryptor(dataKey, nonce, cipher).encrypt((async function* given() { yield* plainPieces; })(), plain.length)) sealedPieces.push(piece);
    t.same(plainPieces.map(sha256), plainDigests, `${cipher.backend}: the plaintext pieces are as they were given`);
    t.notOk(sealedPieces.some((piece) => plainPieces.some((given) => overlap(given, piece))), `${cipher.backend}: no ciphertext lies in a plaintext piece`);
    const stored = Buffer.concat(sealedPieces);
    const storedPieces = [...Array(9).keys()].map((i) => Buffer.from(stored.subarray(Math.floor((i * stored.length) / 9), Math.floor(((i + 1) * stored.length) / 9))));
    const storedDigests = storedPieces.map(sha256);
    const opened: Uint8Array[] = [];
    const options = { cipher, dataKey, objectNonce: nonce, plainBytes: plain.length, offsetBytes: 0, lengthBytes: plain.length };
    for await (const piece of decryptRange((async function* given() { yield* storedPieces; })(), options)) opened.push(piece);
    t.same(storedPieces.map(sha256), storedDigests, `${cipher.backend}: the stored pieces are as they were given`);
    t.notOk(opened.some((piece) => storedPieces.some((given) => overlap(given, piece))), `${cipher.backend}: no plaintext lies in a stored piece`);
    t.ok(Buffer.concat(opened).equals(plain), `${cipher.backend}: and they open to the plaintext`);
  }
});

t.test('the backend choice: node forces node:crypto, auto takes the addon where it runs and else says why, a forced native without it refuses', async (t) => {
  t.equal(resolvePackageCipher('node').cipher.backend, 'node');
  t.equal(resolvePackageCipher('node').fallbackReason, undefined, 'forcing node:crypto is no fallback');
  const dir = await mkdtemp(join(tmpdir(), 'tessera-aes-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const absent = join(dir, 'absent.node');
  const notBuilt = resolvePackageCipher('auto', absent);
  t.equal(notBuilt.cipher.backend, 'node', 'auto without the addon runs on node:crypto');
  t.match(notBuilt.fallbackReason, /not built/, 'and says the addon is not built');
  const broken = join(dir, 'broken.node');
  await writeFile(broken, 'not a shared object');
  const unloadable = resolvePackageCipher('auto', broken);
  t.equal(unloadable.cipher.backend, 'node', 'auto with an addon that does not load runs on node:crypto');
  t.match(unloadable.fallbackReason, /does not load/, 'and says it did not load');
  t.throws(() => resolvePackageCipher('native', absent), { code: 'AesBackendUnavailable' }, 'native forced without the addon throws');
  const missing = nativeMissing();
  if (missing === undefined) {
    const chosen = resolvePackageCipher('auto');
    t.equal(chosen.cipher.backend, 'native', 'auto takes the built addon');
    t.equal(chosen.fallbackReason, undefined);
    t.equal(resolvePackageCipher('native').cipher.backend, 'native');
  } else {
    t.comment(`only node:crypto here: ${missing}`);
  }
});

t.test('the native cipher refuses a package once the next one began on its key and any use after close, and outgrows a wrong hint', async (t) => {
  const native = loadNativePackageCipher();
  if ('reason' in native) {
    t.pass('native cipher checks skipped', { skip: native.reason });
    return;
  }
  const keyed = native.cipher.forKey(randomBytes(32));
  const first = keyed.seal(Buffer.alloc(12, 1), Buffer.alloc(9), P);
  first.update(randomBytes(100));
  const second = keyed.seal(Buffer.alloc(12, 2), Buffer.alloc(9), P);
  t.throws(() => first.update(randomBytes(1)), /after the next one began/, 'the older package is refused');
  t.throws(() => first.finish(), /after the next one began/);
  second.update(randomBytes(10));
  t.equal(Buffer.concat(second.finish()).length, 10 + 16, 'the newer package seals');
  keyed.close();
  keyed.close();
  t.throws(() => keyed.seal(Buffer.alloc(12, 3), Buffer.alloc(9), P), /closed/, 'a closed key begins nothing');
  const grown = native.cipher.forKey(randomBytes(32));
  for (const hint of [Number.NaN, -5, 3]) {
    const seal = grown.seal(Buffer.alloc(12, 4), Buffer.alloc(9), hint);
    seal.update(randomBytes(1000));
    t.equal(Buffer.concat(seal.finish()).length, 1000 + 16, `a package past its hint (${hint}) still seals whole`);
  }
  grown.close();
  const opening = native.cipher.forKey(randomBytes(32)).open(Buffer.alloc(12), Buffer.alloc(9), 4);
  t.throws(() => opening.update(randomBytes(5)), RangeError, 'more ciphertext than the package holds is refused');
});
