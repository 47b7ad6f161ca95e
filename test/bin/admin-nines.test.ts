import { t } from 'tap';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { runAdminCli } from '../../src/bin/admin-cli.js';
import { clusterWithBucket, writeGatewayConfig } from '../helpers/cluster.js';

/**
 * `tessera admin status` ends with the cluster's nines now, worked out from its live state: the
 * nodes that answer, the layout, the ring's sets, the data per node and the repair rate the nodes
 * measured (or, until they have, the rates the command line assumes).
 */
const { cluster, s3, bucket } = await clusterWithBucket(t);
const configPath = await writeGatewayConfig(cluster);
await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'held', Body: Buffer.alloc(300_000, 7) }));

async function status(...extra: string[]): Promise<{ code: number; out: string; err: string; nines: number }> {
  let out = '';
  let err = '';
  const code = await runAdminCli(['status', '--config', configPath, ...extra], {}, { stdout: (s) => void (out += s), stderr: (s) => void (err += s) });
  const match = /^cluster {4}nines now (\S+) /m.exec(out);
  return { code, out, err, nines: match === null ? Number.NaN : match[1] === 'inf' ? Number.POSITIVE_INFINITY : Number(match[1]) };
}

t.test('status of a healthy cluster shows its nines, the layout and which inputs were measured or assumed', async (t) => {
  const healthy = await status();
  t.equal(healthy.code, 0, healthy.err);
  t.ok(healthy.nines > 5 && Number.isFinite(healthy.nines), `nines now ${healthy.nines}`);
  t.match(healthy.out, /0 down: 3 more failures in one set lose data; no repair backlog/);
  t.match(healthy.out, /4\+2 on 6 nodes, 1 zone, 1 sets/);
  t.match(healthy.out, '16.0 TB per node assumed (no node reports used bytes; --disk-size)');
  t.match(healthy.out, '50.0 MB/s assumed (none measured yet; --repair-rate)');
  t.match(healthy.out, 'AFR 1.5 %');

  const faster = await status('--repair-rate', '500', '--afr', '3', '--disk-size', '4');
  t.equal(faster.code, 0, faster.err);
  t.match(faster.out, '4.0 TB per node assumed');
  t.match(faster.out, '500.0 MB/s assumed');
  t.match(faster.out, 'AFR 3 %');
  t.ok(faster.nines > healthy.nines, `smaller disks rebuilt faster: ${faster.nines} > ${healthy.nines}`);

  const refused = await status('--afr', '100');
  t.equal(refused.code, 2);
  t.match(refused.err, '--afr must be a number above 0 and below 100');
});

t.test('with a node stopped, status counts it down and the nines drop', async (t) => {
  const before = await status();
  await cluster.stopNode(5);
  const after = await status();
  t.equal(after.code, 1, 'a node that does not answer makes status exit 1');
  t.match(after.out, /node-5: unreachable/);
  t.match(after.out, /1 down: 2 more failures in one set lose data; repair backlog 3\.7 d, P\(loss before rebuilt\) \S+/);
  t.ok(after.nines < before.nines - 1, `nines ${before.nines} -> ${after.nines}`);
});
