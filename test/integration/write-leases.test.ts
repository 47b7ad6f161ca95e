import { t } from 'tap';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { NodeClient } from '../../src/rpc/index.js';
import { bucketName, seededBytes } from '../helpers/bytes.js';
import { startCluster } from '../helpers/cluster.js';
import { sdkError } from '../gateway/raw-s3.js';

/**
 * A plain PUT holds its key's shared lease (which orders it against conditional writes) from its
 * prepares to its commit. The nodes grant it with the prepare's answer, once the shard is durable, for
 * a body sent whole and for one streamed alike, so no PUT pays a lease round of its own; each node's
 * commit gives it back.
 */
const cluster = await startCluster({ blockSizeBytes: 64 * 1024 });
t.teardown(() => cluster.close());
const s3 = cluster.client();
const bucket = bucketName('leases');
await s3.send(new CreateBucketCommand({ Bucket: bucket }));

/** Counts the lease requests (not give-backs) gateways send to nodes while `run` runs. */
async function leaseRequestsDuring(run: () => Promise<unknown>): Promise<number> {
  const original = NodeClient.prototype.leaseAnswer;
  let requests = 0;
  NodeClient.prototype.leaseAnswer = function (this: NodeClient, ...args: Parameters<NodeClient['leaseAnswer']>) {
    if (args[0].release !== true) requests += 1;
    return original.apply(this, args);
  };
  try {
    await run();
  } finally {
    NodeClient.prototype.leaseAnswer = original;
  }
  return requests;
}

for (const [label, sizeBytes] of [
  ['a small PUT (its body sent whole)', 20_000],
  ['a streamed PUT (file shards, several stripes)', 1_500_000],
] as const) {
  t.test(`${label} takes the key's shared lease with its prepares, and its commit gives it back`, async (t) => {
    const key = `plain-${sizeBytes}`;
    const requests = await leaseRequestsDuring(() => s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: seededBytes(sizeBytes, 1) })));
    t.equal(requests, 0, 'no lease round besides the prepares');
    // Were the lease still held, the conditional create would wait for it and answer SlowDown.
    const conditional = await sdkError(s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'second', IfNoneMatch: '*' })));
    t.equal(conditional.status, 412, 'a conditional create of the key right after sees the object at once');
  });
}
