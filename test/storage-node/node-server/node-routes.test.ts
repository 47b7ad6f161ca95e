import { t } from 'tap';
import { NODE_PATHS } from '../../../src/rpc/index.js';
import { NODE_ROUTES, NODE_METRICS_PATH } from '../../../src/storage-node/node-server/node-routes.js';

t.test('the route table has one row per method and path, and serves every path of the node protocol', async (t) => {
  const keys = NODE_ROUTES.map((route) => `${route.method} ${route.path}`);
  t.same(keys.filter((key, i) => keys.indexOf(key) !== i), [], 'no method and path twice');
  const served = new Set(NODE_ROUTES.map((route) => route.path));
  t.same(Object.values(NODE_PATHS).filter((path) => !served.has(path)), [], 'every NODE_PATHS path has a row');
  t.ok(served.has(NODE_METRICS_PATH), 'metrics have a row');
});

t.test('only health and metrics go unsigned, and only the ring routes take a signature for any node', async (t) => {
  t.same(
    NODE_ROUTES.filter((route) => route.auth === 'open' || route.auth === 'bearer').map((route) => `${route.method} ${route.path} ${route.auth}`),
    [`GET ${NODE_PATHS.health} open`, `GET ${NODE_METRICS_PATH} bearer`],
  );
  t.same(
    NODE_ROUTES.filter((route) => route.auth === 'any-node').map((route) => `${route.method} ${route.path}`),
    [`PUT ${NODE_PATHS.ring}`, `GET ${NODE_PATHS.ring}`, `GET ${NODE_PATHS.previousRing}`],
  );
});

t.test('a body limit comes with a JSON body, and the data path counts as foreground', async (t) => {
  t.same(NODE_ROUTES.filter((route) => route.bodyLimitBytes !== undefined && route.body === undefined), [], 'a limit without a body schema is never read');
  t.same(
    NODE_ROUTES.filter((route) => route.foreground === true).map((route) => route.path).filter((path, i, all) => all.indexOf(path) === i).sort(),
    [NODE_PATHS.shards, NODE_PATHS.commit, NODE_PATHS.abort, NODE_PATHS.objects, NODE_PATHS.list, NODE_PATHS.index, NODE_PATHS.versions, NODE_PATHS.versionDelete, NODE_PATHS.leases, NODE_PATHS.tags].sort(),
    'the clients’ data path; a batch decides by its calls',
  );
});
