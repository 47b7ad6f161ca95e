import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { t } from 'tap';
import {
  PACKAGE_PLAIN_BYTES,
  PACKAGE_STORED_BYTES,
  PACKAGE_TAG_BYTES,
  PackageEncryptor,
  decryptRange,
  packageCount,
  plainSize,
  storedRange,
  storedSize,
  type PackageCipher,
} from '../../../src/gateway/encryption/index.js';
import { collect } from '../../helpers/bytes.js';
import { BACKENDS, cut } from './backends.js';

// Every test that seals or opens runs once per AES-256-GCM backend (node:crypto, and the native addon where built).

const P = PACKAGE_PLAIN_BYTES;

async function encrypt(cipher: PackageCipher, plain: Uint8Array, key: Buffer, nonce: Buffer, pieceBytes = 7_919): Promise<Buffer> {
  const encryptor = new PackageEncryptor(key, nonce, cipher);
  const stored = await collect(encryptor.encrypt(cut(plain, [pieceBytes])));
  if (encryptor.plainBytes() !== plain.length) throw new Error('the encryptor miscounted the plaintext');
  return stored;
}

async function decrypt(cipher: PackageCipher, stored: Uint8Array, key: Buffer, nonce: Buffer, plainBytes: number, offset = 0, length = plainBytes): Promise<Buffer> {
  const range = storedRange(plainBytes, offset, length);
  const slice = stored.subarray(range.storedOffsetBytes, range.storedOffsetBytes + range.storedLengthBytes);
  return collect(decryptRange(cut(slice, [10_007]), { cipher, dataKey: key, objectNonce: nonce, plainBytes, offsetBytes: offset, lengthBytes: length }));
}

const key = randomBytes(32);
const nonce = randomBytes(16);

for (const cipher of BACKENDS) t.test(`every size round-trips, stored as plaintext plus one tag per 64 KiB package [${cipher.backend}]`, async (t) => {
  for (const size of [0, 1, 1024, P - 1, P, P + 1, 3 * P, 3 * P + 17, 1024 * 1024]) {
    const plain = randomBytes(size);
    const stored = await encrypt(cipher, plain, key, nonce);
    t.equal(stored.length, storedSize(size), `stored size of ${size}`);
    t.equal(stored.length, size + packageCount(size) * PACKAGE_TAG_BYTES);
    t.equal(plainSize(stored.length), size, `plaintext size back from ${stored.length}`);
    t.ok((await decrypt(cipher, stored, key, nonce, size)).equals(plain), `${size} bytes read back`);
  }
});

for (const cipher of BACKENDS) t.test(`the stored bytes hold no plaintext [${cipher.backend}]`, async (t) => {
  const plain = Buffer.alloc(4 * P, 'known plaintext marker ');
  const stored = await encrypt(cipher, plain, key, nonce);
  t.equal(stored.indexOf('known plaintext marker'), -1);
});

for (const cipher of BACKENDS) t.test(`one data key under two nonces (two parts of an upload) gives unrelated ciphertexts [${cipher.backend}]`, async (t) => {
  const plain = randomBytes(2 * P);
  const a = await encrypt(cipher, plain, key, randomBytes(16));
  const b = await encrypt(cipher, plain, key, randomBytes(16));
  t.not(a.subarray(0, 64).toString('hex'), b.subarray(0, 64).toString('hex'));
});

for (const cipher of BACKENDS) t.test(`tampering is detected: a flipped byte, a truncation, swapped, replayed or foreign packages [${cipher.backend}]`, async (t) => {
  const size = 3 * P + 100;
  const plain = randomBytes(size);
  const stored = await encrypt(cipher, plain, key, nonce);
  const fails = async (bytes: Uint8Array, what: string, plainBytes = size): Promise<void> => {
    await t.rejects(decrypt(cipher, bytes, key, nonce, plainBytes), { code: 'PackageAuthFailed' }, what);
  };
  for (const at of [0, P - 1, PACKAGE_STORED_BYTES - 1, PACKAGE_STORED_BYTES + 5, stored.length - 1]) {
    const flipped = Buffer.from(stored);
    flipped[at] = (flipped[at] ?? 0) ^ 0x01;
    await fails(flipped, `a flipped byte at ${at}`);
  }
  await fails(stored.subarray(0, stored.length - 1), 'one byte cut off the end');
  await fails(stored.subarray(0, 3 * PACKAGE_STORED_BYTES), 'the last package cut off (the size claims it)');
  // Cut at a package boundary and claim the shorter size: the last package left was not sealed as the last.
  await fails(stored.subarray(0, 2 * PACKAGE_STORED_BYTES), 'truncated at a package edge, size adjusted', 2 * P);
  const swapped = Buffer.concat([stored.subarray(PACKAGE_STORED_BYTES, 2 * PACKAGE_STORED_BYTES), stored.subarray(0, PACKAGE_STORED_BYTES), stored.subarray(2 * PACKAGE_STORED_BYTES)]);
  await fails(swapped, 'the first two packages swapped');
  const replayed = Buffer.concat([stored.subarray(0, PACKAGE_STORED_BYTES), stored.subarray(0, PACKAGE_STORED_BYTES), stored.subarray(2 * PACKAGE_STORED_BYTES)]);
  await fails(replayed, 'the first package replayed in place of the second');
  const other = await encrypt(cipher, randomBytes(size), key, randomBytes(16));
  const foreign = Buffer.concat([stored.subarray(0, PACKAGE_STORED_BYTES), other.subarray(PACKAGE_STORED_BYTES, 2 * PACKAGE_STORED_BYTES), stored.subarray(2 * PACKAGE_STORED_BYTES)]);
  await fails(foreign, 'a package of another object (same data key, another nonce)');
  await t.rejects(decrypt(cipher, stored, randomBytes(32), nonce, size), { code: 'PackageAuthFailed' }, 'the wrong data key');
  await t.rejects(
    collect(decryptRange(cut(Buffer.concat([stored, Buffer.alloc(1)]), [10_007]), { cipher, dataKey: key, objectNonce: nonce, plainBytes: size, offsetBytes: 0, lengthBytes: size })),
    { code: 'PackageAuthFailed' },
    'a stored body with bytes past its last package',
  );
});

for (const cipher of BACKENDS) t.test(`a range touching one package decrypts with only that package in hand [${cipher.backend}]`, async (t) => {
  const size = 5 * P;
  const plain = randomBytes(size);
  const stored = await encrypt(cipher, plain, key, nonce);
  const range = storedRange(size, 2 * P + 10, 100);
  t.same([range.firstPackage, range.lastPackage, range.skipBytes], [2, 2, 10]);
  t.equal(range.storedLengthBytes, PACKAGE_STORED_BYTES);
  // Damage every other package: the range still reads.
  const damaged = Buffer.from(stored);
  damaged.fill(0, 0, 2 * PACKAGE_STORED_BYTES);
  damaged.fill(0, 3 * PACKAGE_STORED_BYTES);
  t.ok((await decrypt(cipher, damaged, key, nonce, size, 2 * P + 10, 100)).equals(plain.subarray(2 * P + 10, 2 * P + 110)));
});

t.test('range mapping: any range maps to exactly the packages holding it', async (t) => {
  const property = fc.property(fc.integer({ min: 0, max: 20 * P }), fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true }), (size, a, b) => {
    const offset = Math.floor(a * size);
    const length = Math.floor(b * (size - offset));
    const r = storedRange(size, offset, length);
    const total = storedSize(size);
    if (r.storedOffsetBytes !== r.firstPackage * PACKAGE_STORED_BYTES) return false;
    if (r.storedOffsetBytes + r.storedLengthBytes > total) return false;
    if (r.firstPackage * P + r.skipBytes !== offset) return false;
    // The packages read cover the range, and no package outside it is read.
    const coveredPlain = Math.min(size, (r.lastPackage + 1) * P) - r.firstPackage * P;
    if (length > 0 && r.skipBytes + length > coveredPlain) return false;
    if (length > 0 && (r.lastPackage + 1) * P - P >= offset + length) return false;
    return r.storedLengthBytes === storedSize(size) - r.storedOffsetBytes || r.storedLengthBytes === (r.lastPackage - r.firstPackage + 1) * PACKAGE_STORED_BYTES;
  });
  fc.assert(property, { numRuns: 2_000 });
  t.pass('every range maps to its packages');
});

for (const cipher of BACKENDS) t.test(`any range decrypts to exactly those bytes of the plaintext [${cipher.backend}]`, async (t) => {
  const size = 4 * P + 333;
  const plain = randomBytes(size);
  const stored = await encrypt(cipher, plain, key, nonce);
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 0, max: size }), fc.integer({ min: 0, max: size }), async (x, y) => {
      const offset = Math.min(x, y);
      const length = Math.max(x, y) - offset;
      return (await decrypt(cipher, stored, key, nonce, size, offset, length)).equals(plain.subarray(offset, offset + length));
    }),
    { numRuns: 150 },
  );
  t.pass('ranges decrypt to the plaintext bytes');
});

t.test('ranges outside the body are refused', async (t) => {
  t.throws(() => storedRange(10, 5, 6));
  t.throws(() => storedRange(10, -1, 2));
  t.throws(() => plainSize(PACKAGE_TAG_BYTES - 1), { code: 'PackageAuthFailed' });
});
