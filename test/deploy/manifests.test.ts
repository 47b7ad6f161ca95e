import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { pathToFileURL } from 'node:url';
import { t } from 'tap';
import { parseAllDocuments } from 'yaml';
import { runClusterCli } from '../../src/bin/cluster-cli.js';
import { CREDENTIAL_ENV, DEFAULTS, GATEWAY_ENV, NODE_ENV, parseGatewayConfig, parseListen, parseNodeConfig } from '../../src/common/index.js';
import { GATEWAY_HEALTH_PATHS } from '../../src/gateway/index.js';
import { NODE_PATHS } from '../../src/rpc/index.js';
import { roleEnv, type Checks, type Obj, type Role } from './manifest-model.js';
import { repoFile } from '../helpers/tree.js';

/**
 * deploy/ checked against itself and against the code: every manifest and the Compose file parse;
 * names, selectors, ports, probes, volumes and secrets refer to things that exist; every TESSERA_*
 * variable is one the role reads, and each container's environment (with its mounted secret files)
 * is a configuration the role's own parser accepts; ports and probe paths are the ones the code serves.
 */

const DEPLOY = pathToFileURL(repoFile('deploy/'));
const NODE_PORT = parseListen(DEFAULTS.nodeListen, 'nodeListen').port;
const GATEWAY_PORT = parseListen(DEFAULTS.gatewayListen, 'gatewayListen').port;
/** The console's port in every manifest: the gateway has no console unless told where, and `tessera dev` uses this one. */
const CONSOLE_PORT = 9001;
const text = async (path: string): Promise<string> => readFile(new URL(path, DEPLOY), 'utf8');

async function yamlDocs(path: string): Promise<Obj[]> {
  const docs = parseAllDocuments(await text(path), { merge: true });
  for (const doc of docs) if (doc.errors.length > 0) throw new Error(`${path}: ${doc.errors.map((e) => e.message).join('; ')}`);
  return docs.map((doc) => doc.toJS() as Obj).filter((doc) => doc !== null);
}

const obj = (value: unknown, what: string): Obj => {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`${what} is not a mapping`);
  return value as Obj;
};
const list = (value: unknown): Obj[] => (Array.isArray(value) ? (value as Obj[]) : []);

/** Parses a role's environment with a file reader that only knows the given secret files. */
function acceptsEnv(role: Role, env: Record<string, string>, secretFiles: ReadonlySet<string>): void {
  const readTextFile = (path: string): string => {
    if (!secretFiles.has(path)) throw new Error(`${path} is not a mounted secret`);
    return 'a-secret-value-long-enough-for-any-key';
  };
  if (role === 'node') parseNodeConfig({}, env, { readTextFile });
  else parseGatewayConfig({}, env, { readTextFile });
}

t.test('Kubernetes manifests', async (t) => {
  const files = (await readdir(new URL('kubernetes/', DEPLOY))).filter((f) => f.endsWith('.yaml'));
  const all: Obj[] = [];
  for (const file of files) all.push(...(await yamlDocs(`kubernetes/${file}`)));
  const find = (kind: string, name: string): Obj => {
    const found = all.find((d) => d['kind'] === kind && obj(d['metadata'], 'metadata')['name'] === name);
    if (found === undefined) throw new Error(`no ${kind} ${name}`);
    return found;
  };
  const kustomization = (await yamlDocs('kubernetes/kustomization.yaml'))[0]!;
  for (const resource of kustomization['resources'] as string[]) t.ok(files.includes(resource), `kustomization lists ${resource}, which exists`);
  t.notOk((kustomization['resources'] as string[]).includes('secret.example.yaml'), 'the example Secret is never applied with placeholder values');

  const secret = find('Secret', 'tessera-secrets');
  const secretKeys = new Set(Object.keys(obj(secret['stringData'], 'stringData')));
  const headless = find('Service', 'tessera-node');
  const nodes = find('StatefulSet', 'tessera-node');
  const gateways = find('Deployment', 'tessera-gateway');
  const s3Service = find('Service', 'tessera-s3');
  const job = find('Job', 'tessera-ring-bootstrap');
  const pdb = find('PodDisruptionBudget', 'tessera-node');

  const nodeSpec = obj(nodes['spec'], 'spec');
  t.equal(nodeSpec['serviceName'], 'tessera-node', 'the StatefulSet names its headless Service');
  t.equal(obj(headless['spec'], 'spec')['clusterIP'], 'None', 'that Service is headless');
  const replicas = nodeSpec['replicas'] as number;
  t.ok(replicas >= DEFAULTS.dataShards + DEFAULTS.parityShards, `${replicas} nodes hold ${DEFAULTS.dataShards}+${DEFAULTS.parityShards}`);

  const workloads: [string, Obj, Role | 'job'][] = [['StatefulSet tessera-node', nodes, 'node'], ['Deployment tessera-gateway', gateways, 'gateway'], ['Job tessera-ring-bootstrap', job, 'job']];
  for (const [what, workload, role] of workloads) {
    const spec = obj(workload['spec'], `${what} spec`);
    const template = obj(spec['template'], `${what} template`);
    const labels = obj(obj(template['metadata'], 'metadata')['labels'], 'labels');
    const selector = spec['selector'] === undefined ? undefined : obj(obj(spec['selector'], 'selector')['matchLabels'], 'matchLabels');
    if (selector !== undefined) t.match(labels, selector, `${what}: the selector matches the pod labels`);
    const pod = obj(template['spec'], 'pod spec');
    t.match(obj(pod['securityContext'], 'securityContext'), { runAsNonRoot: true }, `${what} runs as non-root`);
    const volumes = new Map(list(pod['volumes']).map((v) => [v['name'] as string, v]));
    for (const claim of list(spec['volumeClaimTemplates'])) volumes.set(obj(claim['metadata'], 'metadata')['name'] as string, { persistentVolumeClaim: {} });
    const [container] = list(pod['containers']);
    if (container === undefined) throw new Error(`${what} has no container`);
    const resources = obj(container['resources'], 'resources');
    t.ok(obj(resources['requests'], 'requests')['cpu'] !== undefined && obj(resources['requests'], 'requests')['memory'] !== undefined, `${what} requests CPU and memory`);
    // Mounted secret files: mountPath/itemPath for each item of a Secret volume; each key must exist in the Secret.
    const secretFiles = new Set<string>();
    for (const mount of list(container['volumeMounts'])) {
      const volume = volumes.get(mount['name'] as string);
      t.ok(volume !== undefined, `${what}: volumeMount ${String(mount['name'])} names a volume`);
      const source = volume?.['secret'] as Obj | undefined;
      if (source === undefined) continue;
      t.equal(source['secretName'], 'tessera-secrets', `${what}: secret volume uses the tessera-secrets Secret`);
      for (const item of list(source['items'])) {
        t.ok(secretKeys.has(item['key'] as string), `${what}: Secret key ${String(item['key'])} exists`);
        secretFiles.add(posix.join(mount['mountPath'] as string, item['path'] as string));
      }
    }
    const env: Record<string, string> = {};
    for (const variable of list(container['env'])) {
      const name = variable['name'] as string;
      const from = variable['valueFrom'] as Obj | undefined;
      const ref = from?.['secretKeyRef'] as Obj | undefined;
      if (ref !== undefined) {
        t.equal(ref['name'], 'tessera-secrets', `${what}: ${name} comes from the tessera-secrets Secret`);
        t.ok(secretKeys.has(ref['key'] as string), `${what}: ${name} reads Secret key ${String(ref['key'])}, which exists`);
      }
      env[name] = ref !== undefined ? 'secret-value' : from?.['fieldRef'] !== undefined ? 'tessera-node-0' : String(variable['value']);
    }
    if (role === 'job') {
      await checkBootstrapArgs(t, what, container['args'] as string[], secretFiles, replicas);
      continue;
    }
    t.same(container['args'], [role], `${what} runs tessera ${role}`);
    for (const name of Object.keys(env)) t.ok(roleEnv(role).has(name), `${what}: ${name} is a variable tessera ${role} reads`);
    t.doesNotThrow(() => acceptsEnv(role, env, secretFiles), `${what}: its environment and mounted secrets are a valid ${role} configuration`);
    const port = role === 'node' ? NODE_PORT : GATEWAY_PORT;
    t.equal(parseListen(env['TESSERA_LISTEN'], 'TESSERA_LISTEN').port, port, `${what} listens on the default ${role} port ${port}`);
    const ports = new Map(list(container['ports']).map((p) => [p['name'] as string, p['containerPort'] as number]));
    if (role === 'node') t.same([...ports.values()], [port], `${what} declares container port ${port}`);
    else {
      t.same(Object.fromEntries(ports), { s3: port, console: CONSOLE_PORT }, `${what} declares the S3 port ${port} and the console's ${CONSOLE_PORT}`);
      t.equal(parseListen(env['TESSERA_CONSOLE_LISTEN'], 'TESSERA_CONSOLE_LISTEN').port, CONSOLE_PORT, `${what} serves the console on its own port`);
      const consoleSpec = obj(find('Service', 'tessera-console')['spec'], 'console service spec');
      t.match(labels, obj(consoleSpec['selector'], 'selector'), `${what}: the console's Service selects its pods`);
      t.same(list(consoleSpec['ports']).map((p) => p['targetPort']), ['console'], "the console's Service reaches the console port only");
    }
    const probes = role === 'node' ? { readinessProbe: NODE_PATHS.health, livenessProbe: NODE_PATHS.health } : { startupProbe: GATEWAY_HEALTH_PATHS.live, readinessProbe: GATEWAY_HEALTH_PATHS.ready, livenessProbe: GATEWAY_HEALTH_PATHS.live };
    for (const [probe, path] of Object.entries(probes)) {
      const httpGet = obj(obj(container[probe], probe)['httpGet'], 'httpGet');
      t.equal(httpGet['path'], path, `${what} ${probe} asks ${path}, which the ${role} serves`);
      t.ok(ports.has(httpGet['port'] as string), `${what} ${probe} names a declared port`);
    }
    const service = role === 'node' ? headless : s3Service;
    const serviceSpec = obj(service['spec'], 'service spec');
    t.match(labels, obj(serviceSpec['selector'], 'selector'), `${what}: its Service selects its pods`);
    for (const servicePort of list(serviceSpec['ports'])) t.ok(ports.has(servicePort['targetPort'] as string), `${what}: Service targetPort ${String(servicePort['targetPort'])} is a container port`);
    if (role === 'gateway') {
      const expected = Array.from({ length: replicas }, (_, i) => `tessera-node-${i}.tessera-node:${NODE_PORT}`);
      t.same(env['TESSERA_SEEDS']?.split(','), expected, 'gateway seeds are every StatefulSet pod by its headless DNS name');
    }
  }
  t.match(nodes['spec'], { template: { metadata: { labels: obj(obj(pdb['spec'], 'pdb')['selector'], 'sel')['matchLabels'] } } }, 'the PodDisruptionBudget selects the nodes');
});

/** The bootstrap Job's `cluster init` arguments build a ring of exactly the StatefulSet's pods. */
async function checkBootstrapArgs(t: Checks, what: string, args: string[], secretFiles: ReadonlySet<string>, replicas: number): Promise<void> {
  t.same(args.slice(0, 2), ['cluster', 'init'], `${what} runs tessera cluster init`);
  const secretAt = args.indexOf('--secret-file');
  t.ok(secretFiles.has(args[secretAt + 1] as string), `${what}: --secret-file is a mounted secret`);
  const specs = args.flatMap((arg, i) => (args[i - 1] === '--node' ? [arg] : []));
  t.same(specs.map((s) => s.split(',')[0]), Array.from({ length: replicas }, (_, i) => `tessera-node-${i}=tessera-node-${i}.tessera-node:${NODE_PORT}`), `${what}: one --node per pod, named as TESSERA_NODE_ID names it`);
  t.equal(new Set(specs.map((s) => /zone=(\w+)/.exec(s)?.[1])).size, 3, `${what}: three zones`);
  // Run it for real against a local secret, without --push: the arguments must build a ring.
  const dir = await mkdtemp(join(tmpdir(), 'tessera-deploy-'));
  try {
    await writeFile(join(dir, 'secret'), 'a-secret-value-long-enough-for-any-key', { mode: 0o600 });
    const local = args.slice(2).map((arg, i, all) => (all[i - 1] === '--secret-file' ? join(dir, 'secret') : all[i - 1] === '--out' ? join(dir, 'out') : arg));
    const withoutPush = local.filter((arg, i) => arg !== '--push' && arg !== '--wait-ms' && local[i - 1] !== '--wait-ms');
    let err = '';
    const code = await runClusterCli(['init', ...withoutPush], { stdout: () => undefined, stderr: (s) => (err += s) });
    t.equal(code, 0, `${what}: cluster init accepts its arguments ${err}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Compose: nodes, bootstrap and gateways refer to each other and to what the code reads. */
async function checkCompose(t: Checks): Promise<void> {
  const [compose] = await yamlDocs('compose.yaml');
  const services = obj(compose!['services'], 'services');
  const secrets = obj(compose!['secrets'], 'secrets');
  const volumes = obj(compose!['volumes'], 'volumes');
  const nodeNames = Object.keys(services).filter((name) => (services[name] as Obj)['command']?.toString() === 'node');
  const gatewayNames = Object.keys(services).filter((name) => (services[name] as Obj)['command']?.toString() === 'gateway');
  t.equal(nodeNames.length, 6, 'six node services');
  t.equal(gatewayNames.length, 2, 'two gateway services');
  const zones = nodeNames.map((name) => obj((services[name] as Obj)['labels'], 'labels')['org.tessera.zone']);
  t.same([...new Set(zones)].sort(), ['a', 'b', 'c'], 'three zones');
  for (const zone of ['a', 'b', 'c']) t.equal(zones.filter((z) => z === zone).length, 2, `two nodes in zone ${zone}`);
  for (const [name, raw] of Object.entries(services)) {
    const service = obj(raw, name);
    const serviceSecrets = (service['secrets'] as string[] | undefined) ?? [];
    for (const secret of serviceSecrets) t.ok(secret in secrets, `${name}: secret ${secret} is declared`);
    for (const dependency of Object.keys(obj(service['depends_on'] ?? {}, 'depends_on'))) t.ok(dependency in services, `${name} depends on ${dependency}, which exists`);
    const secretFiles = new Set(serviceSecrets.map((s) => `/run/secrets/${s}`));
    const env = Object.fromEntries(Object.entries(obj(service['environment'] ?? {}, 'environment')).map(([k, v]) => [k, String(v)]));
    const role = service['command']?.toString();
    if (role === 'node' || role === 'gateway') {
      for (const variable of Object.keys(env)) t.ok(roleEnv(role).has(variable), `${name}: ${variable} is a variable tessera ${role} reads`);
      t.doesNotThrow(() => acceptsEnv(role, env, secretFiles), `${name}: its environment and secrets are a valid ${role} configuration`);
      t.equal(parseListen(env['TESSERA_LISTEN'], 'TESSERA_LISTEN').port, role === 'node' ? NODE_PORT : GATEWAY_PORT, `${name} listens on the default ${role} port`);
    }
    if (role === 'node') {
      t.equal(env['TESSERA_NODE_ID'], name, `${name}: the node id is the service name`);
      const mounts = (service['volumes'] as string[]).map((v) => v.split(':'));
      t.ok(mounts.some(([volume, path]) => volume! in volumes && path === env['TESSERA_DATA_DIR']), `${name}: a declared volume is mounted at TESSERA_DATA_DIR`);
      t.notOk(Object.values(services).some((other) => other !== raw && ((other as Obj)['volumes'] as string[] | undefined)?.some((v) => (service['volumes'] as string[]).includes(v))), `${name}: its volume is its own`);
    }
    if (role === 'gateway') {
      t.same(env['TESSERA_SEEDS']?.split(','), nodeNames.map((node) => `${node}:${NODE_PORT}`), `${name}: seeds are every node service`);
      t.equal(parseListen(env['TESSERA_CONSOLE_LISTEN'], 'TESSERA_CONSOLE_LISTEN').port, CONSOLE_PORT, `${name} serves the console on its own port`);
      t.same(((service['ports'] as string[]) ?? []).map((p) => Number(p.split(':')[1])).sort(), [GATEWAY_PORT, CONSOLE_PORT].sort(), `${name}: publishes the S3 port and the console's`);
      t.ok('ring-bootstrap' in obj(service['depends_on'], 'depends_on'), `${name} waits for the ring bootstrap`);
    }
  }
  const published = gatewayNames.flatMap((name) => obj(services[name], name)['ports'] as string[]).map((p) => p.split(':')[0]);
  t.equal(new Set(published).size, published.length, 'gateways publish distinct host ports');
  const bootstrap = obj(services['ring-bootstrap'], 'ring-bootstrap');
  const args = bootstrap['command'] as string[];
  const specs = args.flatMap((arg, i) => (args[i - 1] === '--node' ? [arg] : []));
  t.same(specs.map((s) => s.replace(/,zone=.*/, '')), nodeNames.map((n) => `${n}=${n}:${NODE_PORT}`), 'the bootstrap ring lists every node service');
  t.same(specs.map((s) => /zone=(\w+)/.exec(s)?.[1]), zones, 'with the zone each node service is labelled with');
  t.ok((bootstrap['secrets'] as string[]).map((s) => `/run/secrets/${s}`).includes(args[args.indexOf('--secret-file') + 1]!), 'the bootstrap reads a secret it mounts');
  for (const node of nodeNames) t.equal(obj(obj(bootstrap['depends_on'], 'depends_on')[node], node)['condition'], 'service_healthy', `bootstrap waits for ${node} to be healthy`);
}

t.test('Compose file', (t) => checkCompose(t));

t.test('Dockerfile: multi-stage, non-root, health check, the ports and entry point the code has', async (t) => {
  const dockerfile = await text('Dockerfile');
  const lines = dockerfile.split('\n').filter((line) => !line.startsWith('#'));
  t.ok(lines.filter((line) => line.startsWith('FROM ')).length >= 2, 'multi-stage');
  const user = lines.filter((line) => line.startsWith('USER ')).at(-1);
  t.ok(user !== undefined && !/USER (root|0)\b/.test(user), `runs as ${user}`);
  t.match(dockerfile, /^HEALTHCHECK .*CMD \["node", "dist\/bin\/tessera\.js", "healthcheck"\]/m, 'health check runs tessera healthcheck');
  t.match(dockerfile, /^EXPOSE (\d+) (\d+) (\d+)$/m);
  t.same(/^EXPOSE (\d+) (\d+) (\d+)$/m.exec(dockerfile)?.slice(1).map(Number).sort(), [GATEWAY_PORT, CONSOLE_PORT, NODE_PORT].sort(), "exposes the default gateway and node ports and the manifests' console port");
  const pkg = JSON.parse(await readFile(new URL('../package.json', DEPLOY), 'utf8')) as { bin: Record<string, string> };
  t.match(dockerfile, new RegExp(`^ENTRYPOINT \\["node", "${pkg.bin['tessera']!.replace(/\./g, '\\.')}"\\]`, 'm'), 'the entry point is package.json\'s bin');
  const ignore = await text('Dockerfile.dockerignore');
  for (const copied of ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'native/', 'scripts/', 'src/']) t.match(ignore, `!${copied}`, `${copied} is in the build context`);
});

t.test('systemd units and their example configurations', async (t) => {
  for (const [unit, role, example] of [['tessera-node@.service', 'node', 'node-n0.json'], ['tessera-gateway.service', 'gateway', 'gateway.json']] as const) {
    const lines = (await text(`systemd/${unit}`)).split('\n');
    const values = (key: string): string[] => lines.filter((line) => line.startsWith(`${key}=`)).map((line) => line.slice(key.length + 1));
    t.match(values('ExecStart')[0], new RegExp(`dist/bin/tessera\\.js ${role} --config /etc/tessera/`), `${unit} starts tessera ${role} with a config file`);
    t.ok(values('User')[0] !== undefined && values('User')[0] !== 'root', `${unit} runs as an unprivileged user`);
    const credentials = new Set(values('LoadCredential').map((v) => v.split(':')[0]));
    const env = Object.fromEntries(values('Environment').map((v) => [v.slice(0, v.indexOf('=')), v.slice(v.indexOf('=') + 1)]));
    for (const name of Object.keys(env)) t.ok(roleEnv(role).has(name), `${unit}: ${name} is a variable tessera ${role} reads`);
    const credentialDir = '/run/credentials/x';
    const resolved = Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v.replace('%d', credentialDir).replace('%i', 'n0')]));
    const secretFiles = new Set([...credentials].map((c) => `${credentialDir}/${c}`));
    for (const value of Object.values(env)) if (value.startsWith('%d/')) t.ok(credentials.has(value.slice(3)), `${unit}: ${value} is a loaded credential`);
    const document = JSON.parse(await text(`systemd/${example}`)) as unknown;
    const readTextFile = (path: string): string => {
      if (!secretFiles.has(path)) throw new Error(`${path} is not a loaded credential`);
      return 'a-secret-value-long-enough-for-any-key';
    };
    t.doesNotThrow(
      () => (role === 'node' ? parseNodeConfig(document, resolved, { readTextFile }) : parseGatewayConfig(document, resolved, { readTextFile })),
      `${example} with ${unit}'s environment is a valid ${role} configuration`,
    );
  }
});

t.test('deploy/README.md names only commands, variables and files that exist', async (t) => {
  const readme = await text('README.md');
  const commands = new Set(['dev', 'node', 'gateway', 'cluster', 'ring', 'config', 'healthcheck', 'admin']);
  for (const [, command] of readme.matchAll(/\btessera ([a-z-]+)/g)) t.ok(commands.has(command!), `tessera ${command} is a command`);
  const known = new Set([...Object.values(GATEWAY_ENV), ...Object.values(NODE_ENV), ...Object.values(CREDENTIAL_ENV)]);
  const documented = new Set([...readme.matchAll(/\bTESSERA_[A-Z0-9_]+/g)].map(([name]) => name));
  for (const name of documented) t.ok(known.has(name), `${name} is a variable Tessera reads`);
  for (const name of known) t.ok(documented.has(name), `${name} is documented`);
  for (const [, path] of readme.matchAll(/\]\((?!https?:)([^)#]+)\)/g)) {
    await t.resolves(readFile(new URL(path!, DEPLOY)), `link ${path} exists`);
  }
  t.match(readme, GATEWAY_HEALTH_PATHS.ready, 'documents the gateway readiness path');
  t.match(readme, GATEWAY_HEALTH_PATHS.live, 'documents the gateway liveness path');
});
