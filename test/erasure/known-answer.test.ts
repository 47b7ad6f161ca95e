import t from 'tap';
import { KNOWN_ANSWERS } from './support/known-answers.js';
import { kernelVariants } from './support/kernels.js';
import { hex, naiveEncode, vectorData } from './support/reference-rs.js';

// The vectors were printed by the naive reference; re-deriving them here guards the committed file itself.
t.test('committed vectors match the independent naive implementation', (t) => {
  for (const vector of KNOWN_ANSWERS) {
    const parity = naiveEncode(vectorData(vector.k, vector.shardBytes), vector.m).map(hex);
    t.same(parity, vector.parityHex, `${vector.k}+${vector.m}`);
  }
  t.end();
});

for (const variant of kernelVariants()) {
  t.test(`${variant.label}: parity matches the known-answer vectors`, (t) => {
    for (const vector of KNOWN_ANSWERS) {
      const codec = variant.create(vector.k, vector.m);
      const shards = [...vectorData(vector.k, vector.shardBytes)];
      for (let i = 0; i < vector.m; i++) shards.push(new Uint8Array(vector.shardBytes));
      codec.encode(shards);
      t.same(shards.slice(vector.k).map(hex), vector.parityHex, `${vector.k}+${vector.m}`);
    }
    t.end();
  });
}
