import fc from 'fast-check';
import { t } from 'tap';
import xxhash from 'xxhash-wasm';
import { XxHash64, xxhash64 } from '../../src/placement/index.js';
import { encodeUtf8Into } from '../../src/placement/encode-utf8.js';
import { wasmXxHash64High } from '../../src/placement/xxhash64-wasm.js';

const reference = await xxhash();

t.test('xxhash64 matches the reference on every length around the 4-, 8- and 32-byte boundaries', (t) => {
  const bytes = Uint8Array.from({ length: 200 }, (_, i) => (i * 131 + 7) & 0xff);
  for (let length = 0; length <= 200; length++) {
    const input = bytes.subarray(0, length);
    t.equal(xxhash64(input), reference.h64Raw(input, 0n), `length ${length}`);
  }
  t.end();
});

t.test('xxhash64 matches the reference on random bytes and seeds', (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), (input, seed) => {
      return xxhash64(input, seed) === reference.h64Raw(input, seed);
    }),
    { numRuns: 2000 },
  );
  t.end();
});

t.test('the WebAssembly hash gives the reference digest\'s high word on every length to 300 and on random bytes', (t) => {
  const wasm = wasmXxHash64High();
  if (wasm === null) {
    t.fail('this runtime has WebAssembly, so the module must instantiate');
    t.end();
    return;
  }
  const high = (input: Uint8Array): number => {
    wasm.input.set(input);
    return wasm.high(input.length);
  };
  const bytes = Uint8Array.from({ length: 300 }, (_, i) => (i * 131 + 7) & 0xff);
  for (let length = 0; length <= 300; length++) {
    const input = bytes.subarray(0, length);
    t.equal(high(input), Number(reference.h64Raw(input, 0n) >> 32n), `length ${length}`);
  }
  t.doesNotThrow(() =>
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), (input) => high(input) === Number(reference.h64Raw(input, 0n) >> 32n)),
      { numRuns: 2000 },
    ),
  );
  t.end();
});

t.test('known digests: the empty input and "abc"', (t) => {
  // Published xxh64 test vectors.
  t.equal(xxhash64(new Uint8Array(0)), 0xef46db3751d8e999n);
  t.equal(xxhash64(new TextEncoder().encode('abc')), 0x44bc2cf5ad770999n);
  t.end();
});

t.test('an XxHash64 instance hashes a prefix of a reused buffer and exposes both halves', (t) => {
  const hasher = new XxHash64();
  const buffer = new Uint8Array(64).fill(0x5a);
  const high = hasher.hash(buffer, 40);
  const expected = reference.h64Raw(buffer.subarray(0, 40), 0n);
  t.equal(high, Number(expected >> 32n));
  t.equal(hasher.low, Number(expected & 0xffffffffn));
  t.equal(hasher.digest, expected);
  t.end();
});

// Arbitrary UTF-16 code units, lone surrogates included, which TextEncoder turns into U+FFFD.
const utf16 = fc.string({ unit: fc.oneof(fc.constantFrom('\ud800', '\udfff', '\udbff\udc00'), fc.string({ unit: 'binary', minLength: 1, maxLength: 1 })) });

t.test('encodeUtf8Into writes exactly the bytes TextEncoder does, at any offset', (t) => {
  const encoder = new TextEncoder();
  fc.assert(
    fc.property(utf16, fc.nat(8), (text, offset) => {
      const out = new Uint8Array(offset + text.length * 3);
      const end = encodeUtf8Into(text, out, offset);
      const expected = encoder.encode(text);
      return end - offset === expected.length && Buffer.from(out.subarray(offset, end)).equals(expected);
    }),
    { numRuns: 3000 },
  );
  t.end();
});
