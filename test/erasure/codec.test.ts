import t from 'tap';
import { availableKernels, createCodec } from '../../src/erasure/index.js';

for (const kernel of availableKernels()) {
  t.test(`${kernel}: Backblaze JavaReedSolomon 5+5 vector`, (t) => {
    // From Backblaze's ReedSolomonTest.testOneEncode: same field and matrix, so the same parity.
    const codec = createCodec({ dataShards: 5, parityShards: 5, kernel });
    const shards = [[0, 1], [4, 5], [2, 3], [6, 7], [8, 9]].map((s) => Uint8Array.from(s));
    for (let i = 0; i < 5; i++) shards.push(new Uint8Array(2));
    codec.encode(shards);
    t.same(shards.slice(5).map((s) => [...s]), [[12, 13], [10, 11], [14, 15], [90, 91], [94, 95]]);
    t.ok(codec.verify(shards));
    (shards[8] as Uint8Array)[0] = 91;
    t.notOk(codec.verify(shards));
    t.end();
  });
}
