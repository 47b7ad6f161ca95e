import { createHash, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { t } from 'tap';
import {
  PACKAGE_PLAIN_BYTES,
  PACKAGE_STORED_BYTES,
  PackageEncryptor,
  decryptRange,
  packageCount,
  packageKey,
  sealPackage,
  storedSize,
  type PackageCipher,
} from '../../../src/gateway/encryption/index.js';
import { collect } from '../../helpers/bytes.js';
import { BACKENDS, cut } from './backends.js';

// The encryptor and decryptor stream pieces straight through the cipher; these tests pin that the
// bytes they write and accept are exactly the package format, whatever the pieces look like, on every
// AES-256-GCM backend (the reference below is node:crypto's one-call seal, package by package).

const P = PACKAGE_PLAIN_BYTES;
const key = randomBytes(32);
const nonce = randomBytes(16);

/** The format by definition: every package sealed on its own with its index and final flag. */
function reference(plain: Uint8Array, dataKey: Buffer, objectNonce: Buffer): Buffer {
  const packageKeyBytes = packageKey(dataKey, objectNonce);
  const count = packageCount(plain.length);
  const packages: Buffer[] = [];
  for (let index = 0; index < count; index += 1) {
    packages.push(sealPackage(packageKeyBytes, index, index === count - 1, plain.subarray(index * P, Math.min(plain.length, (index + 1) * P))));
  }
  return Buffer.concat(packages);
}

/** decryptRange over a whole body of `plainBytes`. */
function openAll(cipher: PackageCipher, stored: AsyncIterable<Uint8Array>, dataKey: Buffer, objectNonce: Buffer, plainBytes: number): AsyncGenerator<Uint8Array> {
  return decryptRange(stored, { cipher, dataKey, objectNonce, plainBytes, offsetBytes: 0, lengthBytes: plainBytes });
}

for (const cipher of BACKENDS) t.test(`a fixed key, nonce and plaintext give the stored bytes earlier releases wrote [${cipher.backend}]`, async (t) => {
  const plain = Buffer.alloc(3 * P + 100);
  for (let i = 0; i < plain.length; i += 1) plain[i] = (i * 31 + 7) & 0xff;
  const stored = await collect(new PackageEncryptor(Buffer.alloc(32, 7), Buffer.alloc(16, 9), cipher).encrypt(cut(plain, [5000])));
  t.equal(stored.length, 196_772);
  t.equal(createHash('sha256').update(stored).digest('hex'), '7b45b7be9dfdf71412b64e2c5acfff6cfec61985563b9bbb61b7af818d8b736f');
});

for (const cipher of BACKENDS) t.test(`the streamed encryptor writes exactly the per-package format for any pieces and any size hint, right or wrong [${cipher.backend}]`, async (t) => {
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 0, max: 4 * P + 50 }),
      fc.array(fc.integer({ min: 1, max: 3 * P }), { minLength: 1, maxLength: 5 }),
      fc.constantFrom('none', 'exact', 'one less', 'one more', 'a package less', 'a package more', 'zero'),
      async (size, sizes, hint) => {
        const plain = randomBytes(size);
        const expected = { none: undefined, exact: size, 'one less': Math.max(0, size - 1), 'one more': size + 1, 'a package less': Math.max(0, size - P), 'a package more': size + P, zero: 0 }[hint];
        const encryptor = new PackageEncryptor(key, nonce, cipher);
        const stored = await collect(encryptor.encrypt(cut(plain, sizes), expected));
        return encryptor.plainBytes() === size && stored.length === storedSize(size) && stored.equals(reference(plain, key, nonce));
      },
    ),
    { numRuns: 200 },
  );
  for (const size of [0, 1, P - 1, P, P + 1, 2 * P, 16 * P]) {
    const plain = randomBytes(size);
    for (const expected of [undefined, size]) {
      const stored = await collect(new PackageEncryptor(key, nonce, cipher).encrypt(cut(plain, [P]), expected));
      t.ok(stored.equals(reference(plain, key, nonce)), `${size} bytes in whole packages, hint ${expected ?? 'none'}`);
    }
  }
});

for (const cipher of BACKENDS) t.test(`the streamed decryptor opens the per-package format from any pieces, down to single bytes splitting a tag [${cipher.backend}]`, async (t) => {
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 0, max: 4 * P + 50 }),
      fc.array(fc.integer({ min: 1, max: 3 * PACKAGE_STORED_BYTES }), { minLength: 1, maxLength: 5 }),
      async (size, sizes) => {
        const plain = randomBytes(size);
        const opened = await collect(openAll(cipher, cut(reference(plain, key, nonce), sizes), key, nonce, size));
        return opened.equals(plain);
      },
    ),
    { numRuns: 200 },
  );
  const plain = randomBytes(2 * P + 3);
  const stored = reference(plain, key, nonce);
  t.ok((await collect(openAll(cipher, cut(stored, [1]), key, nonce, plain.length))).equals(plain), 'one byte at a time');
  t.ok((await collect(openAll(cipher, cut(stored, [PACKAGE_STORED_BYTES - 8, 1, 7]), key, nonce, plain.length))).equals(plain), 'tags cut in three');
});

for (const cipher of BACKENDS) t.test(`no byte of a package is released before its tag checks out, however the package arrives [${cipher.backend}]`, async (t) => {
  const size = 3 * P + 100;
  const plain = randomBytes(size);
  const stored = reference(plain, key, nonce);
  for (const [what, at] of [
    ['ciphertext of the second package', PACKAGE_STORED_BYTES + 10],
    ['tag of the second package', 2 * PACKAGE_STORED_BYTES - 1],
    ['ciphertext of the last package', 3 * PACKAGE_STORED_BYTES + 1],
  ] as const) {
    const damaged = Buffer.from(stored);
    damaged[at] = (damaged[at] ?? 0) ^ 0x80;
    for (const sizes of [[1000], [P + 3], [PACKAGE_STORED_BYTES - 1, 2]]) {
      const released: Uint8Array[] = [];
      const reading = (async () => {
        for await (const piece of openAll(cipher, cut(damaged, sizes), key, nonce, size)) released.push(piece);
      })();
      await t.rejects(reading, { code: 'PackageAuthFailed' }, `${what} flipped, pieces of ${sizes.join('/')}`);
      const damagedPackage = Math.floor(at / PACKAGE_STORED_BYTES);
      const out = Buffer.concat(released);
      t.equal(out.length, damagedPackage * P, 'only the packages before the damaged one were released');
      t.ok(out.equals(plain.subarray(0, out.length)), 'and they are the plaintext');
    }
  }
});
