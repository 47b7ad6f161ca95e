import { t } from 'tap';
import {
  ConfigError,
  DEFAULTS,
  GATEWAY_ENV,
  NODE_ENV,
  knownEnvVars,
  parseGatewayConfig,
  parseNodeConfig,
  redactConfig,
} from '../../src/common/index.js';

const SECRET = 'a-cluster-secret-of-32-characters';
const base = { credentials: [{ accessKeyId: 'ak', secretAccessKey: 'sk' }], clusterSecret: SECRET, seeds: ['10.0.0.1:9100'] };

/** Files the parser may read, by absolute path; anything else does not exist. */
function files(map: Record<string, string>): (path: string) => string {
  return (path) => {
    const text = map[path];
    if (text === undefined) throw new Error(`ENOENT: no such file, open '${path}'`);
    return text;
  };
}

t.test('a minimal gateway file gets every default from DEFAULTS', async (t) => {
  const config = parseGatewayConfig(base);
  t.same(config.listen, { host: '127.0.0.1', port: 9000 });
  t.equal(config.region, DEFAULTS.region);
  t.same(config.erasure, { dataShards: DEFAULTS.dataShards, parityShards: DEFAULTS.parityShards, blockSizeBytes: DEFAULTS.blockSizeBytes });
  t.equal(config.ringPollMs, DEFAULTS.ringPollMs);
  t.equal(config.metadataTimeoutMs, DEFAULTS.metadataTimeoutMs);
  t.equal(config.tls, undefined);
  t.equal(config.heapGrowthPercent, DEFAULTS.heapGrowthPercent, 'the heap may grow past V8\'s own choice unless told otherwise');
  t.same(config.seeds, ['10.0.0.1:9100']);
  t.ok(Object.isFrozen(config), 'the result is frozen');
});

t.test('flags beat TESSERA_* variables, which beat the file', async (t) => {
  const doc = { ...base, listen: '0.0.0.0:1', region: 'file-region', erasure: { dataShards: 8, parityShards: 4 } };
  const env = { TESSERA_LISTEN: '0.0.0.0:2', TESSERA_REGION: 'env-region', TESSERA_PARITY_SHARDS: '3', TESSERA_SEEDS: 'a:1, b:2' };
  const config = parseGatewayConfig(doc, env, { flags: { listen: '0.0.0.0:3' } });
  t.same(config.listen, { host: '0.0.0.0', port: 3 });
  t.equal(config.region, 'env-region');
  t.same(config.erasure, { dataShards: 8, parityShards: 3, blockSizeBytes: DEFAULTS.blockSizeBytes });
  t.same(config.seeds, ['a:1', 'b:2'], 'TESSERA_SEEDS is comma-separated');
});

t.test('unknown keys, anywhere in the file, are errors naming the key', async (t) => {
  t.throws(() => parseGatewayConfig({ ...base, lisen: 'x:1' }), { code: 'InvalidConfig', message: /unknown configuration key lisen/ });
  t.throws(() => parseGatewayConfig({ ...base, erasure: { dataShard: 4 } }), { message: /unknown configuration key erasure\.dataShard/ });
  t.throws(() => parseGatewayConfig({ ...base, tls: { cert: 'x' } }), { message: /unknown configuration key tls\.cert/ });
  t.throws(() => parseGatewayConfig({ ...base, credentials: [{ accessKeyId: 'a', secretAccessKey: 'b', role: 'admin' }] }), {
    message: /unknown configuration key credentials\[0\]\.role/,
  });
  t.throws(() => parseGatewayConfig({ ...base, erasure: 4 }), { message: /erasure must be an object/ });
  t.throws(() => parseNodeConfig({ dataDir: '/d', clusterSecret: SECRET, zone: 'a' }), { message: /unknown configuration key zone/ });
  t.throws(() => parseGatewayConfig('not an object'), { message: /must be a JSON object/ });
  const used = { accessKeyId: 'ak', secretAccessKey: 'sk', $source: { CREDENTIALS_CODE: 'e' } };
  t.same(parseGatewayConfig({ ...base, credentials: [used] }).credentials, [{ accessKeyId: 'ak', secretAccessKey: 'sk' }], 'the SDK\'s $source mark on a used credential object is not a key');
});

t.test('bad values are errors naming the key, or the variable that set it', async (t) => {
  t.throws(() => parseGatewayConfig({ ...base, erasure: { dataShards: 0 } }), { message: /erasure\.dataShards must be an integer from 1 to 128, got 0/ });
  t.throws(() => parseGatewayConfig(base, { TESSERA_DATA_SHARDS: 'four' }), { message: /TESSERA_DATA_SHARDS must be an integer/ });
  t.throws(() => parseGatewayConfig({ ...base, listen: 'localhost' }), { message: /listen must be "host:port"/ });
  t.throws(() => parseGatewayConfig({ ...base, kernel: 'avx' }), { message: /kernel must be one of auto, portable, wasm-simd/ });
  t.throws(() => parseGatewayConfig(base, { TESSERA_AES_BACKEND: 'openssl' }), { message: /TESSERA_AES_BACKEND must be one of auto, native, node/ });
  t.throws(() => parseGatewayConfig(base, { TESSERA_LOG_LEVEL: 'loud' }), { message: /TESSERA_LOG_LEVEL must be one of/ });
  t.throws(() => parseGatewayConfig(base, { TESSERA_HEAP_GROWTH_PERCENT: '5000' }), { message: /TESSERA_HEAP_GROWTH_PERCENT must be an integer from 0 to 1000/ });
  t.throws(() => parseGatewayConfig({ ...base, seeds: ['no-port'] }), { message: /seeds\[0\] must be "host:port"/ });
  t.throws(() => parseGatewayConfig({ ...base, clusterSecret: 'short' }), { message: /at least 16 characters/ });
  t.throws(() => parseGatewayConfig({ ...base, credentials: [] }), { message: /at least one access key/ });
  t.throws(() => parseGatewayConfig({ ...base, credentials: [{ accessKeyId: 'a' }] }), { message: /credentials\[0\] needs exactly one of secretAccessKey or secretAccessKeyFile/ });
  const { clusterSecret: _, ...noSecret } = base;
  t.throws(() => parseGatewayConfig(noSecret), { message: /clusterSecret \/ TESSERA_CLUSTER_SECRET or clusterSecretFile \/ TESSERA_CLUSTER_SECRET_FILE/ });
});

t.test('a misspelt TESSERA_* variable is an error; the other role\'s variables are not', async (t) => {
  t.throws(() => parseGatewayConfig(base, { TESSERA_LISTN: '0.0.0.0:1' }), { message: /unknown environment variable TESSERA_LISTN/ });
  t.doesNotThrow(() => parseGatewayConfig(base, { TESSERA_DATA_DIR: '/data', TESSERA_NODE_ID: 'n0' }));
  t.doesNotThrow(() => parseGatewayConfig(base, { UNRELATED: 'x', TESSERA_REGION: undefined }));
});

t.test('exactly one ring source: nodes, ringFile or seeds', async (t) => {
  const { seeds: _, ...noRing } = base;
  t.throws(() => parseGatewayConfig(noRing), { message: /the ring is required: seeds \(TESSERA_SEEDS\), ringFile/ });
  t.throws(() => parseGatewayConfig({ ...base, ringFile: 'ring.json' }), { message: /not ringFile and seeds/ });
  const nodes = Array.from({ length: 6 }, (_, i) => ({ id: `n${i}`, address: `10.0.0.${i}:9100` }));
  t.equal(parseGatewayConfig({ ...noRing, nodes }).nodes.length, 6);
  t.throws(() => parseGatewayConfig({ ...noRing, nodes: nodes.slice(0, 5) }), { message: /needs at least 6/ });
  t.throws(() => parseGatewayConfig({ ...noRing, nodes: [...nodes.slice(1), { id: 'n1', address: 'x:1' }] }), { message: /nodes\[5\]\.id "n1" appears twice/ });
  t.throws(() => parseGatewayConfig({ ...noRing, nodes: [{ id: 'n0', address: 'x:1', rack: 'r' }] }), { message: /nodes\[0\]\.rack/ });
});

t.test('secrets come from files; relative paths in the file are relative to the file', async (t) => {
  const read = files({ '/etc/tessera/cluster-secret': `${SECRET}\n`, '/etc/tessera/keys/sk': 'from-a-file\n', '/run/secrets/s3': '  mounted \n' });
  const doc = {
    seeds: ['n:1'],
    clusterSecretFile: 'cluster-secret',
    credentials: [{ accessKeyId: 'file-key', secretAccessKeyFile: 'keys/sk' }],
  };
  const config = parseGatewayConfig(doc, { TESSERA_ACCESS_KEY: 'env-key', TESSERA_SECRET_KEY_FILE: '/run/secrets/s3' }, { baseDir: '/etc/tessera', readTextFile: read });
  t.equal(config.clusterSecret, SECRET, 'trailing newline dropped');
  t.same(config.credentials, [
    { accessKeyId: 'env-key', secretAccessKey: 'mounted' },
    { accessKeyId: 'file-key', secretAccessKey: 'from-a-file' },
  ], 'the environment key comes first');
  t.throws(() => parseGatewayConfig({ ...doc, clusterSecret: SECRET }, {}, { baseDir: '/etc/tessera', readTextFile: read }), {
    message: /give clusterSecret or clusterSecretFile, not both/,
  });
  const fromEnv = parseGatewayConfig({ ...doc, clusterSecret: 'x' }, { TESSERA_CLUSTER_SECRET_FILE: '/etc/tessera/cluster-secret' }, { baseDir: '/etc/tessera', readTextFile: read });
  t.equal(fromEnv.clusterSecret, SECRET, 'a variable beats the file, even across inline and file forms');
  t.throws(() => parseGatewayConfig({ ...doc, clusterSecretFile: 'missing' }, {}, { baseDir: '/etc/tessera', readTextFile: read }), {
    message: /clusterSecretFile: cannot read \/etc\/tessera\/missing/,
  });
  t.throws(() => parseGatewayConfig(base, { TESSERA_ACCESS_KEY: 'k' }), { message: /TESSERA_ACCESS_KEY needs exactly one of TESSERA_SECRET_KEY or TESSERA_SECRET_KEY_FILE/ });
  const list = files({ '/c/keys.json': JSON.stringify([{ accessKeyId: 'k1', secretAccessKey: 's1' }]) });
  const { credentials: _, ...noCredentials } = base;
  t.same(parseGatewayConfig({ ...noCredentials, credentialsFile: 'keys.json' }, {}, { baseDir: '/c', readTextFile: list }).credentials, [{ accessKeyId: 'k1', secretAccessKey: 's1' }]);
});

t.test('tls needs both files, and paths resolve against the file', async (t) => {
  const config = parseGatewayConfig({ ...base, tls: { certFile: 'cert.pem', keyFile: '/k/key.pem' } }, {}, { baseDir: '/etc/tessera' });
  t.same(config.tls, { certFile: '/etc/tessera/cert.pem', keyFile: '/k/key.pem' });
  t.throws(() => parseGatewayConfig({ ...base, tls: { certFile: 'cert.pem' } }), { message: /tls needs both certFile and keyFile/ });
  const fromEnv = parseGatewayConfig(base, { TESSERA_TLS_CERT_FILE: '/a/c.pem', TESSERA_TLS_KEY_FILE: '/a/k.pem' });
  t.same(fromEnv.tls, { certFile: '/a/c.pem', keyFile: '/a/k.pem' });
});

t.test('node configuration: file, variables and flags, with the flag spelling in errors', async (t) => {
  const read = files({ '/srv/secret': SECRET });
  const config = parseNodeConfig({ nodeId: 'file-id', dataDir: 'data', clusterSecretFile: '/srv/secret', reserveBytes: 0 }, { TESSERA_NODE_ID: 'env-id' }, {
    baseDir: '/srv/tessera',
    readTextFile: read,
  });
  t.equal(config.nodeId, 'env-id');
  t.equal(config.dataDir, '/srv/tessera/data');
  t.same(config.listen, { host: '127.0.0.1', port: 9100 }, 'DEFAULTS.nodeListen');
  t.equal(config.reserveBytes, 0);
  t.equal(config.rowCacheBytes, DEFAULTS.rowCacheBytes, 'the row cache takes its default');
  t.equal(parseNodeConfig({ dataDir: '/d', rowCacheBytes: 1024 }, { TESSERA_CLUSTER_SECRET: SECRET }).rowCacheBytes, 1024, 'rowCacheBytes from the file');
  t.equal(parseNodeConfig({ dataDir: '/d', rowCacheBytes: 1024 }, { TESSERA_CLUSTER_SECRET: SECRET, TESSERA_ROW_CACHE_BYTES: '0' }).rowCacheBytes, 0, 'TESSERA_ROW_CACHE_BYTES beats the file; 0 turns the cache off');
  t.equal(config.metadataWriteBufferBytes, DEFAULTS.metadataWriteBufferBytes, "LevelDB's write buffer takes its default");
  t.equal(parseNodeConfig({ dataDir: '/d', metadataWriteBufferBytes: 1 << 20 }, { TESSERA_CLUSTER_SECRET: SECRET, TESSERA_METADATA_WRITE_BUFFER_BYTES: '65536' }).metadataWriteBufferBytes, 65536, 'TESSERA_METADATA_WRITE_BUFFER_BYTES beats the file');
  t.throws(() => parseNodeConfig({ dataDir: '/d', metadataWriteBufferBytes: 1024 }, { TESSERA_CLUSTER_SECRET: SECRET }), { message: /metadataWriteBufferBytes/ }, 'a write buffer below LevelDB\'s 64 KiB floor is refused');
  t.equal(config.directIoMemoryBytes, DEFAULTS.directIoMemoryBytes, 'the direct I/O memory takes its default');
  t.equal(parseNodeConfig({ dataDir: '/d', directIoMemoryBytes: 1 << 24 }, { TESSERA_CLUSTER_SECRET: SECRET, TESSERA_DIRECT_IO_MEMORY_BYTES: '0' }).directIoMemoryBytes, 0, 'TESSERA_DIRECT_IO_MEMORY_BYTES beats the file; 0 keeps every file in the page cache');
  t.throws(() => parseNodeConfig({ dataDir: '/d' }, { TESSERA_CLUSTER_SECRET: SECRET, TESSERA_ROW_CACHE_BYTES: '-1' }), { message: /TESSERA_ROW_CACHE_BYTES/ }, 'a negative budget is refused, naming the variable');
  const flagged = parseNodeConfig({ dataDir: '/d' }, { TESSERA_CLUSTER_SECRET: SECRET }, { flags: { listen: '0.0.0.0:9101', nodeId: 'n1' } });
  t.same(flagged.listen, { host: '0.0.0.0', port: 9101 });
  t.equal(flagged.nodeId, 'n1');
  t.throws(() => parseNodeConfig({}, { TESSERA_CLUSTER_SECRET: SECRET }), { message: /data directory is required: dataDir \/ --data \/ TESSERA_DATA_DIR/ });
  t.throws(() => parseNodeConfig({ dataDir: '/d' }, { TESSERA_CLUSTER_SECRET: SECRET }, { flags: { listen: 'nope' } }), { message: /--listen must be "host:port"/ });
  t.throws(() => parseNodeConfig({ dataDir: '/d', clusterSecret: SECRET }, {}, { flags: { clusterSecretFile: '/missing' }, readTextFile: read }), {
    message: /--secret-file: cannot read \/missing/,
  });
});

t.test('the environment tables name only TESSERA_* variables, and config check output hides secrets', async (t) => {
  for (const name of knownEnvVars()) t.match(name, /^TESSERA_[A-Z0-9_]+$/);
  t.equal(GATEWAY_ENV['listen'], NODE_ENV['listen'], 'both roles listen on TESSERA_LISTEN');
  const shown = JSON.stringify(redactConfig(parseGatewayConfig(base)));
  t.notMatch(shown, SECRET);
  t.notMatch(shown, '"sk"');
  t.ok(new ConfigError('x') instanceof Error);
});
