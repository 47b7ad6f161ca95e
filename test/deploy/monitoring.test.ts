import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { promisify } from 'node:util';
import { pathToFileURL } from 'node:url';
import { t } from 'tap';
import { parse, parseAllDocuments } from 'yaml';
import { CreateBucketCommand, PutBucketNotificationConfigurationCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { parseGatewayConfig, parseNodeConfig } from '../../src/common/index.js';
import { NodeClient } from '../../src/rpc/index.js';
import { underCi } from '../helpers/clients.js';
import { startCluster } from '../helpers/cluster.js';
import { defineTarget } from '../helpers/event-targets.js';
import { freePorts } from '../helpers/ports.js';
import { parsePrometheus, scrape } from '../helpers/prometheus.js';
import { repoFile } from '../helpers/tree.js';
import { until } from '../helpers/until.js';

/**
 * deploy/'s monitoring against the code: every Tessera metric the alert rules and the Grafana dashboard
 * name is one a running gateway or node exports; the rules and the Prometheus configurations pass
 * promtool; the scrape targets are the services and ports that exist; every /metrics requires a token
 * from a secret, and every Prometheus scrape of it sends that token.
 */
const DEPLOY = pathToFileURL(repoFile('deploy/'));
const text = (path: string): Promise<string> => readFile(new URL(path, DEPLOY), 'utf8');
const run = promisify(execFile);

/** The tessera_* metric names in a PromQL text, with histogram and counter suffixes kept as written. */
function metricNames(expr: string): string[] {
  return [...expr.matchAll(/\btessera_[a-z0-9_]+/g)].map((m) => m[0]);
}

/**
 * Names a real scrape exports: each sample's name (so a histogram's _bucket, _count and _sum are there).
 * The bucket's changes go to a webhook target on a port nothing listens on, so the node that leads them
 * exports its per-target event series (a node has none for a target it never counted).
 */
async function exportedNames(): Promise<Set<string>> {
  const cluster = await startCluster();
  const nodes = cluster.config.nodes.map((node) => new NodeClient({ nodeId: node.id, address: node.address, clusterSecret: cluster.config.clusterSecret, connections: 1 }));
  try {
    const [closedPort] = await freePorts(1);
    const arn = await defineTarget(nodes, 'monitoring-hook', { type: 'webhook', url: `http://127.0.0.1:${closedPort}/` });
    const s3 = cluster.client();
    await s3.send(new CreateBucketCommand({ Bucket: 'monitoring' }));
    await s3.send(new PutBucketNotificationConfigurationCommand({ Bucket: 'monitoring', NotificationConfiguration: { QueueConfigurations: [{ QueueArn: arn, Events: ['s3:ObjectCreated:*'] }] } }));
    await s3.send(new PutObjectCommand({ Bucket: 'monitoring', Key: 'k', Body: 'v' }));
    const urls = [`${cluster.endpoint}/metrics`, ...cluster.nodes.map((node) => `http://127.0.0.1:${node.address.port}/metrics`)];
    const names = new Set<string>();
    const scrapeAll = async (): Promise<Set<string>> => {
      for (const url of urls) for (const sample of parsePrometheus((await scrape(url)).text).samples) names.add(sample.name);
      return names;
    };
    await until('a node exports the webhook target\'s event figures', async () => (await scrapeAll()).has('tessera_node_event_failures_total'), 30_000);
    return names;
  } finally {
    await Promise.all(nodes.map((node) => node.close()));
    await cluster.close();
  }
}

t.test('alert rules and dashboard name only metrics Tessera exports', async (t) => {
  const exported = await exportedNames();
  const rules = parse(await text('prometheus/alerts.yml')) as { groups: { rules: { alert: string; expr: string }[] }[] };
  const alerts = rules.groups.flatMap((g) => g.rules);
  for (const wanted of ['TesseraNodeDown', 'TesseraObjectsBelowFullRedundancy', 'TesseraDiskNearlyFull', 'TesseraRepairBacklogGrowing', 'TesseraEventBacklogGrowing', 'TesseraEventDeliveryStale', 'TesseraEventDeliveryFailing']) {
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

t.test('promtool accepts the alert rules and the Prometheus configurations', async (t) => {
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
  // The configurations name the rules and the token where Prometheus has them mounted (promtool checks that
  // both exist); check them against the files here.
  const token = join(dir, 'metrics-token');
  await writeFile(token, 'a-metrics-token\n', { mode: 0o600 });
  for (const file of ['prometheus.yml', 'kubernetes.yml']) {
    const config = (await text(`prometheus/${file}`)).replace('/etc/prometheus/alerts.yml', rulesPath).replace(/credentials_file: .*/g, `credentials_file: ${token}`);
    await writeFile(join(dir, file), config);
    const checked = await run('promtool', ['check', 'config', join(dir, file)]).catch((err: { stdout: string; stderr: string }) => err);
    // Debian builds Prometheus without Kubernetes discovery; the configuration for Kubernetes is then checked by the test below only.
    if (/field kubernetes_sd_configs not found/.test(checked.stderr)) t.comment(`${file}: skipped, this promtool has no Kubernetes discovery`);
    else t.match(checked.stdout, /SUCCESS/, `${file} passes promtool ${checked.stderr}`);
  }
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

type Scrape = { job_name: string; authorization?: { type?: string; credentials_file?: string } };

t.test('every node and gateway requires a metrics token from a secret, and every Prometheus scrape of them sends it', async (t) => {
  const readToken = (files: ReadonlySet<string>) => (path: string): string => {
    if (!files.has(path)) throw new Error(`${path} is not a mounted secret`);
    return 'the-metrics-token';
  };
  const tokenOf = (role: string, env: Record<string, string>, files: ReadonlySet<string>, document: unknown = {}): string | undefined =>
    (role === 'node' ? parseNodeConfig(document, env, { readTextFile: readToken(files) }) : parseGatewayConfig(document, env, { readTextFile: readToken(files) })).metricsToken;

  // Kubernetes: the token file comes from a Secret volume, mounted so that others cannot read it.
  type Container = { env?: { name: string; value?: string }[]; volumeMounts?: { name: string; mountPath: string }[] };
  type Volume = { name: string; secret?: { secretName: string; defaultMode?: number; items?: { key: string; path: string }[] } };
  type Workload = { kind: string; spec: { template: { spec: { containers: Container[]; volumes?: Volume[] } } } };
  const secretKeys = Object.keys((parse(await text('kubernetes/secret.example.yaml')) as { stringData: Record<string, string> }).stringData);
  for (const file of ['kubernetes/node-statefulset.yaml', 'kubernetes/gateway-deployment.yaml', 'kubernetes/ring-bootstrap-job.yaml']) {
    const workload = parseAllDocuments(await text(file)).map((doc) => doc.toJS() as Workload).find((doc) => ['StatefulSet', 'Deployment', 'Job'].includes(doc.kind));
    if (workload === undefined) throw new Error(`${file}: no workload`);
    const pod = workload.spec.template.spec;
    for (const volume of pod.volumes ?? []) {
      if (volume.secret === undefined) continue;
      const mode = volume.secret.defaultMode;
      t.ok(mode !== undefined && (mode & 0o007) === 0 && (mode & 0o030) === 0, `${file}: Secret volume ${volume.name} sets a defaultMode others cannot read (${mode?.toString(8)})`);
    }
    if (workload.kind === 'Job') continue;
    const role = file.includes('node') ? 'node' : 'gateway';
    const [container] = pod.containers;
    const files = new Set<string>();
    for (const mount of container?.volumeMounts ?? []) {
      const volume = pod.volumes?.find((v) => v.name === mount.name);
      for (const item of volume?.secret?.items ?? []) if (secretKeys.includes(item.key)) files.add(posix.join(mount.mountPath, item.path));
    }
    const env = Object.fromEntries((container?.env ?? []).filter((e) => e.value !== undefined).map((e) => [e.name, e.value as string]));
    t.ok(env['TESSERA_METRICS_TOKEN_FILE'] !== undefined && files.has(env['TESSERA_METRICS_TOKEN_FILE']), `${file}: TESSERA_METRICS_TOKEN_FILE is a file of the tessera-secrets Secret`);
    t.equal(tokenOf(role, { ...env, TESSERA_ACCESS_KEY: 'a' }, files), 'the-metrics-token', `${file}: the ${role} requires that token on /metrics`);
  }
  const monitor = parse(await text('kubernetes/monitoring/podmonitor.yaml')) as { spec: { podMetricsEndpoints: { port: string; authorization?: { type?: string; credentials?: { name: string; key: string } } }[] } };
  for (const endpoint of monitor.spec.podMetricsEndpoints) {
    t.equal(endpoint.authorization?.credentials?.name, 'tessera-secrets', `PodMonitor ${endpoint.port}: sends a bearer token from the tessera-secrets Secret`);
    t.ok(secretKeys.includes(endpoint.authorization?.credentials?.key ?? ''), `PodMonitor ${endpoint.port}: from a key the Secret has`);
  }
  const inCluster = parse(await text('prometheus/kubernetes.yml')) as { scrape_configs: Scrape[] };
  t.same(inCluster.scrape_configs.map((c) => c.job_name).sort(), ['tessera-gateway', 'tessera-node'], 'an in-cluster Prometheus has the jobs the alert rules name');
  for (const scrape of inCluster.scrape_configs) t.ok(scrape.authorization?.credentials_file !== undefined, `prometheus/kubernetes.yml ${scrape.job_name}: sends the token`);

  // Compose: nodes, gateways and Prometheus mount the same secret; Prometheus sends it on every Tessera job.
  type Service = { command?: unknown; environment?: Record<string, string>; secrets?: string[]; group_add?: string[] };
  const compose = parse(await text('compose.yaml'), { merge: true }) as { services: Record<string, Service>; secrets: Record<string, { file: string }> };
  const prometheus = parse(await text('prometheus/prometheus.yml')) as { scrape_configs: Scrape[] };
  const tokenFiles = new Set<string>();
  for (const [name, service] of Object.entries(compose.services)) {
    const role = String(service.command);
    if (role !== 'node' && role !== 'gateway') continue;
    const files = new Set((service.secrets ?? []).map((s) => `/run/secrets/${s}`));
    const env = Object.fromEntries(Object.entries(service.environment ?? {}).map(([k, v]) => [k, String(v)]));
    t.equal(tokenOf(role, env, files), 'the-metrics-token', `compose ${name}: requires a metrics token from a mounted secret`);
    tokenFiles.add(env['TESSERA_METRICS_TOKEN_FILE'] ?? '');
  }
  t.equal(tokenFiles.size, 1, 'every node and gateway reads the same token file');
  const [tokenFile] = [...tokenFiles];
  t.ok((compose.services['prometheus']?.secrets ?? []).map((s) => `/run/secrets/${s}`).includes(tokenFile ?? ''), 'Prometheus mounts that secret');
  // Compose mounts the host's file as it is: root's, readable by the group of the image's user (uid and gid 1000), which Prometheus joins.
  t.ok((compose.services['prometheus']?.group_add ?? []).map(String).includes('1000'), 'and may read it through the group of the Tessera image\'s user');
  for (const scrape of prometheus.scrape_configs.filter((c) => c.job_name.startsWith('tessera-'))) {
    t.equal(scrape.authorization?.credentials_file, tokenFile, `prometheus.yml ${scrape.job_name}: sends it as a bearer token`);
  }

  // systemd: the token is a credential of each unit, like the cluster secret.
  for (const [unit, role, example] of [['tessera-node@.service', 'node', 'node-n0.json'], ['tessera-gateway.service', 'gateway', 'gateway.json']] as const) {
    const lines = (await text(`systemd/${unit}`)).split('\n');
    const values = (key: string): string[] => lines.filter((line) => line.startsWith(`${key}=`)).map((line) => line.slice(key.length + 1));
    const dir = '/run/credentials/x';
    const files = new Set(values('LoadCredential').map((v) => `${dir}/${v.split(':')[0]}`));
    const env = Object.fromEntries(values('Environment').map((v) => [v.slice(0, v.indexOf('=')), v.slice(v.indexOf('=') + 1).replace('%d', dir).replace('%i', 'n0')]));
    t.equal(tokenOf(role, env, files, JSON.parse(await text(`systemd/${example}`))), 'the-metrics-token', `${unit}: requires a metrics token from a loaded credential`);
  }
});
