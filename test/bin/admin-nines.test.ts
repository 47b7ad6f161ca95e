import { t } from 'tap';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { runAdminCli } from '../../src/bin/admin-cli.js';
import { measuredRepairRate, type LiveStatusRow } from '../../src/bin/live-durability.js';
import { runPlanCli } from '../../src/bin/plan-cli.js';
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

async function plan(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runPlanCli(['durability', '--ec', '4+2', '--nodes', '6', '--afr', '1.5', '--disk-size', '16', ...args], { stdout: (s) => void (out += s), stderr: (s) => void (err += s) });
  return { code, out, err };
}

t.test('plan durability --measured refuses, saying why, while no node has rebuilt anything; it takes no --repair-rate beside it', async (t) => {
  const none = await plan('--measured', '--config', configPath);
  t.equal(none.code, 1, 'a cluster that has repaired nothing has no rate to plan with');
  t.match(none.err, /--measured: none of the 6 nodes that answered has rebuilt anything since it started.*give --repair-rate/);
  t.equal((await plan('--measured', '--repair-rate', '50', '--config', configPath)).code, 2, '--measured and --repair-rate exclude each other');
  t.equal((await plan('--repair-rate', '50', '--config', configPath)).code, 2, '--config only names the cluster --measured reads');
});

t.test('the measured repair rate is the median of the rates of the nodes that rebuilt something', async (t) => {
  const row = (nodeId: string, mbPerSecond: number, rebuildMs: number): LiveStatusRow =>
    ({ nodeId, figures: { repair: { mbPerSecond, rebuildMs } } }) as unknown as LiveStatusRow;
  t.equal(measuredRepairRate([row('a', 0, 0), { nodeId: 'b', error: 'down' }]), null);
  t.equal(measuredRepairRate([row('a', 40, 10), row('b', 0, 0), row('c', 100, 5), row('d', 60, 7)]), 60e6);
  t.equal(measuredRepairRate([row('a', 40, 10), row('c', 100, 5)]), 70e6);
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
