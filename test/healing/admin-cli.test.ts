import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { t } from 'tap';
import { runAdminCli } from '../../src/bin/admin-cli.js';
import { runDev } from '../../src/bin/roles.js';
import { silentLogger } from '../../src/common/index.js';
import { TEST_DEV_ENV as DEV_ENV } from '../helpers/tree.js';

/**
 * `tessera dev` hands its ring to the embedded nodes and writes data/cluster.json; `tessera admin`
 * reaches those nodes by default (and through a gateway config), starts scrubs and prints status.
 */
const dir = await mkdtemp(join(tmpdir(), 'tessera-admin-'));
const dataDir = join(dir, 'data');
t.teardown(() => rm(dir, { recursive: true, force: true }));
/** The embedded cluster as the restart left it: the heal test goes on with it rather than start a third. */
let restarted: Awaited<ReturnType<typeof runDev>> | undefined;
t.teardown(() => restarted?.close());

async function admin(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runAdminCli(args, {}, { stdout: (s) => void (out += s), stderr: (s) => void (err += s) });
  return { code, out, err };
}

t.test('admin status and scrub against the embedded cluster, across a restart', async (t) => {
  for (const round of [1, 2]) {
    const dev = await runDev({ data: dataDir, listen: '127.0.0.1:0', nodes: '6' }, DEV_ENV, silentLogger());
    if (round === 2) restarted = dev;
    try {
      const cluster = JSON.parse(await readFile(join(dataDir, 'cluster.json'), 'utf8')) as { nodes: { id: string; address: string }[] };
      t.equal(cluster.nodes.length, 6, `round ${round}: cluster.json names the six nodes`);

      const scrub = await admin(['scrub', '--fast', '--data', dataDir]);
      t.equal(scrub.code, 0, `round ${round}: scrub reaches every node: ${scrub.err}`);
      t.match(scrub.out, /scrub pass started on 6 of 6 nodes/);

      const json = await admin(['status', '--json', '--data', dataDir]);
      const rows = JSON.parse(json.out) as { nodeId: string; ringEpoch: number; figures: { scrub: { passes: number } } }[];
      t.same(rows.map((row) => row.nodeId).sort(), cluster.nodes.map((node) => node.id).sort());
      t.ok(rows.every((row) => row.ringEpoch >= round), `round ${round}: every node holds the gateway's ring (epochs ${rows.map((r) => r.ringEpoch).join(',')})`);

      const text = await admin(['status', '--data', dataDir]);
      t.equal(text.code, 0);
      for (const word of ['scrub', 'shards verified', 'checksum failures', 'repair', 'pending', 'rebalance', 'below full redundancy']) t.match(text.out, word);

      const configPath = join(dir, 'gateway.json');
      const secret = (await readFile(join(dataDir, 'cluster-secret'), 'utf8')).trim();
      await writeFile(configPath, JSON.stringify({ credentials: [{ accessKeyId: 'a', secretAccessKey: 'b' }], clusterSecret: secret, nodes: cluster.nodes.map((n) => ({ ...n, zone: 'local' })) }));
      const viaConfig = await admin(['status', '--config', configPath]);
      t.equal(viaConfig.code, 0, `status via --config: ${viaConfig.err}`);
      t.match(viaConfig.out, 'node-5');
    } finally {
      if (round === 1) await dev.close();
    }
  }
  const missing = await admin(['status', '--data', join(dir, 'nowhere')]);
  t.equal(missing.code, 1);
  t.match(missing.err, 'no embedded cluster');
  t.equal((await admin(['bogus'])).code, 2);
});

t.test('admin heal --wait runs a pass to the end; status --watch repeats until stopped; both have --json', async (t) => {
  if (restarted === undefined) throw new Error('the restart test left no embedded cluster');
  const healDir = dataDir;
  const heal = await admin(['heal', '--fast', '--wait', '--interval-ms', '50', '--data', healDir]);
  t.equal(heal.code, 0, `heal --wait ends with every node healed: ${heal.err}`);
  t.match(heal.out, /heal pass started on 6 of 6 nodes/);
  t.match(heal.out, /scrub\s+pass \d+ \[[#.]{20}\] \d+%/, 'progress bars');
  t.match(heal.out, /heal pass done: every node scrubbed, nothing left to repair/);

  const healJson = await admin(['heal', '--wait', '--fast', '--json', '--interval-ms', '50', '--data', healDir]);
  t.equal(healJson.code, 0);
  const snapshots = healJson.out.trim().split('\n').map((line) => JSON.parse(line) as { nodeId: string }[]);
  t.ok(snapshots.length >= 1 && snapshots.every((rows) => rows.length === 6), 'one JSON line per progress report, six nodes each');

  const stop = new AbortController();
  let printed = 0;
  let out = '';
  const code = await runAdminCli(['status', '--watch', '--interval-ms', '20', '--data', healDir], {}, {
    stdout: (s) => {
      out += s;
      printed += 1;
      if (printed === 3) stop.abort();
    },
    stderr: () => undefined,
    signal: stop.signal,
  });
  t.equal(code, 0);
  t.equal(printed, 3, 'status --watch printed until stopped');
  t.equal(out.match(/node-0 \(ring epoch/g)?.length, 3);
});

t.test('heal --wait and status --watch through the gateway\'s admin API follow the pass as they do through the nodes', async (t) => {
  if (restarted === undefined) throw new Error('the restart test left no embedded cluster');
  const { endpoint, accessKeyId, secretAccessKey } = restarted.info;
  const env = { AWS_ACCESS_KEY_ID: accessKeyId, AWS_SECRET_ACCESS_KEY: secretAccessKey };
  const run = async (args: string[], signal?: AbortSignal, onPrint?: () => void): Promise<{ code: number; out: string; err: string }> => {
    let out = '';
    let err = '';
    const code = await runAdminCli([...args, '--endpoint', endpoint], env, {
      stdout: (s) => {
        out += s;
        onPrint?.();
      },
      stderr: (s) => void (err += s),
      ...(signal === undefined ? {} : { signal }),
    });
    return { code, out, err };
  };
  const heal = await run(['heal', '--fast', '--wait', '--interval-ms', '50']);
  t.equal(heal.code, 0, `heal --wait ends with every node healed: ${heal.err}`);
  t.match(heal.out, /heal pass started on 6 of 6 nodes \(fast: no rate limit\)/);
  t.match(heal.out, /heal pass done: every node scrubbed, nothing left to repair/);

  const stop = new AbortController();
  let printed = 0;
  const watch = await run(['status', '--watch', '--interval-ms', '20'], stop.signal, () => {
    printed += 1;
    if (printed === 3) stop.abort();
  });
  t.equal(watch.code, 0, watch.err);
  t.equal(watch.out.match(/node-0 \(ring epoch/g)?.length, 3, 'status --watch printed every node until stopped');
  t.notMatch(watch.out, /nines/, 'no nines line through the API: it needs the nodes\' records');

  let deniedErr = '';
  const denied = await runAdminCli(['status', '--watch', '--endpoint', endpoint], { AWS_ACCESS_KEY_ID: accessKeyId, AWS_SECRET_ACCESS_KEY: 'not-the-secret' }, {
    stdout: () => undefined,
    stderr: (s) => void (deniedErr += s),
  });
  t.equal(denied, 1, 'a wrong secret: exit 1 at once, not a watch of errors');
  t.match(deniedErr, /^tessera admin: /);
});
