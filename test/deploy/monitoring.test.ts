import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { pathToFileURL } from 'node:url';
import { t } from 'tap';
import { parse, parseAllDocuments } from 'yaml';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { underCi } from '../helpers/clients.js';
import { startCluster } from '../helpers/cluster.js';
import { parsePrometheus, scrape } from '../helpers/prometheus.js';
import { repoFile } from '../helpers/tree.js';

/**
 * deploy/'s monitoring against the code: every Tessera metric the alert rules and the Grafana dashboard
 * name is one a running gateway or node exports; the rules and the Compose Prometheus configuration
 * pass promtool; the scrape targets are the services and ports that exist.
 */
const DEPLOY = pathToFileURL(repoFile('deploy/'));
const text = (path: string): Promise<string> => readFile(new URL(path, DEPLOY), 'utf8');
const run = promisify(execFile);

/** The tessera_* metric names in a PromQL text, with histogram and counter suffixes kept as written. */
function metricNames(expr: string): string[] {
  return [...expr.matchAll(/\btessera_[a-z0-9_]+/g)].map((m) => m[0]);
}

/** Names a real scrape exports: each sample's name (so a histogram's _bucket, _count and _sum are there). */
async function exportedNames(): Promise<Set<string>> {
  const cluster = await startCluster();
  try {
    const s3 = cluster.client();
    await s3.send(new CreateBucketCommand({ Bucket: 'monitoring' }));
    await s3.send(new PutObjectCommand({ Bucket: 'monitoring', Key: 'k', Body: 'v' }));
    const names = new Set<string>();
    for (const url of [`${cluster.endpoint}/metrics`, `http://127.0.0.1:${cluster.nodes[0]!.address.port}/metrics`]) {
      for (const sample of parsePrometheus((await scrape(url)).text).samples) names.add(sample.name);
    }
    return names;
  } finally {
    await cluster.close();
  }
}

t.test('alert rules and dashboard name only metrics Tessera exports', async (t) => {
  const exported = await exportedNames();
  const rules = parse(await text('prometheus/alerts.yml')) as { groups: { rules: { alert: string; expr: string }[] }[] };
  const alerts = rules.groups.flatMap((g) => g.rules);
  for (const wanted of ['TesseraNodeDown', 'TesseraObjectsBelowFullRedundancy', 'TesseraDiskNearlyFull', 'TesseraRepairBacklogGrowing']) {
    t.ok(alerts.some((a) => a.alert === wanted), `an alert ${wanted}`);
  }
  for (const rule of alerts) for (const name of metricNames(rule.expr)) t.ok(exported.has(name), `${rule.alert}: ${name} is exported`);
  const dashboard = JSON.parse(await text('grafana/tessera-dashboard.json')) as { panels: { title: string; targets: { expr: string }[] }[] };
  t.ok(dashboard.panels.length >= 10, 'the dashboard has panels');
  for (const panel of dashboard.panels) {
    t.ok(panel.targets.length > 0, `${panel.title}: has a query`);
    for (const target of panel.targets) for (const name of metricNames(target.expr)) t.ok(exported.has(name), `${panel.title}: ${name} is exported`);
  }
});

t.test('promtool accepts the alert rules and the Compose Prometheus configuration', async (t) => {
  const promtool = await run('promtool', ['--version']).then(() => true, () => false);
  if (!promtool) {
    if (underCi()) t.fail('promtool is missing (Debian package prometheus)');
    else t.comment('skipped: promtool is missing (apt-get install prometheus)');
    return;
  }
  const rulesPath = new URL('prometheus/alerts.yml', DEPLOY).pathname;
  const rules = await run('promtool', ['check', 'rules', rulesPath]);
  t.match(rules.stdout, /SUCCESS: \d+ rules found/);
  const dir = await mkdtemp(join(tmpdir(), 'tessera-promtool-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  // The configuration names the rules where the Compose file mounts them; check it against the file here.
  const config = (await text('prometheus/prometheus.yml')).replace('/etc/prometheus/alerts.yml', rulesPath);
  await writeFile(join(dir, 'prometheus.yml'), config);
  const checked = await run('promtool', ['check', 'config', join(dir, 'prometheus.yml')]);
  t.match(checked.stdout, /SUCCESS/);
});

t.test('Compose and Kubernetes scrape every node and gateway on the ports and path the code serves', async (t) => {
  const compose = parse(await text('compose.yaml'), { merge: true }) as { services: Record<string, { command?: unknown; volumes?: string[] }> };
  const prometheus = parse(await text('prometheus/prometheus.yml')) as { scrape_configs: { job_name: string; metrics_path: string; static_configs: { targets: string[] }[] }[] };
  const targetsOf = (job: string): string[] => prometheus.scrape_configs.find((c) => c.job_name === job)?.static_configs.flatMap((s) => s.targets) ?? [];
  const nodes = Object.keys(compose.services).filter((name) => String(compose.services[name]?.command) === 'node');
  const gateways = Object.keys(compose.services).filter((name) => String(compose.services[name]?.command) === 'gateway');
  t.same(targetsOf('tessera-node'), nodes.map((n) => `${n}:9100`), 'every node service is scraped');
  t.same(targetsOf('tessera-gateway'), gateways.map((g) => `${g}:9000`), 'every gateway service is scraped');
  t.ok(prometheus.scrape_configs.every((c) => c.metrics_path === '/metrics'));
  const mounts = compose.services['prometheus']?.volumes ?? [];
  t.ok(mounts.some((m) => m.startsWith('./prometheus/prometheus.yml:')), 'Compose mounts the Prometheus configuration');
  t.ok(mounts.some((m) => m.startsWith('./prometheus/alerts.yml:/etc/prometheus/alerts.yml')), 'and the rules where the configuration names them');
  for (const [file, port] of [['kubernetes/node-statefulset.yaml', '9100'], ['kubernetes/gateway-deployment.yaml', '9000']] as const) {
    type Workload = { kind: string; spec: { template: { metadata: { annotations?: Record<string, string> } } } };
    const docs = parseAllDocuments(await text(file)).map((doc) => doc.toJS() as Workload);
    const manifest = docs.find((doc) => doc.kind === 'StatefulSet' || doc.kind === 'Deployment');
    if (manifest === undefined) throw new Error(`${file}: no workload`);
    const annotations = manifest.spec.template.metadata.annotations ?? {};
    t.equal(annotations['prometheus.io/scrape'], 'true', `${file}: pods are scraped`);
    t.equal(annotations['prometheus.io/port'], port, `${file}: on the port the role serves`);
    t.equal(annotations['prometheus.io/path'], '/metrics');
  }
  const monitor = parse(await text('kubernetes/monitoring/podmonitor.yaml')) as { kind: string; spec: { podMetricsEndpoints: { port: string; path: string }[] } };
  t.equal(monitor.kind, 'PodMonitor');
  t.same(monitor.spec.podMetricsEndpoints.map((e) => e.port).sort(), ['node', 's3'], 'the PodMonitor names the container ports the manifests declare');
});
