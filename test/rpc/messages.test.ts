import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { t } from 'tap';
import { Client } from 'undici';
import { silentLogger } from '../../src/common/index.js';
import { MESSAGE_CHECKS, NODE_PATHS, NodeClient, bodySha256, signRequest } from '../../src/rpc/index.js';
import { StorageNode } from '../../src/storage-node/index.js';
import { recordFor, tempDir } from '../storage-node/store-fixture.js';

const SECRET = 'messages-test-secret';
const REF = { bucket: 'b', key: 'k', versionId: '0000000000010000aaaaaaaa', shardIndex: 0 };

t.test('a message check names the first field that is wrong', async (t) => {
  const good = { record: recordFor(REF, 4), shardIndex: 0 };
  t.equal(MESSAGE_CHECKS.commit.problem(good), null);
  t.match(MESSAGE_CHECKS.commit.problem({ ...good, record: { ...good.record, versionId: 'v1' } }), /^commit request \/record\/versionId /);
  t.match(MESSAGE_CHECKS.commit.problem({ ...good, shardIndex: 256 }), /\/shardIndex/);
  t.ok(MESSAGE_CHECKS.commit.is({ ...good, record: { ...good.record, addedByANewerNode: 1 } }), 'fields a newer peer adds are accepted');
});

t.test('the node answers a body that is not its message with 400 BadRequest naming the field', async (t) => {
  const dataDir = await tempDir(t, 'messages');
  const node = new StorageNode({ nodeId: 'n0', dataDir, host: '127.0.0.1', port: 0, clusterSecret: SECRET, logger: silentLogger() });
  const { port } = await node.start();
  const http = new Client(`http://127.0.0.1:${port}`);
  t.teardown(async () => {
    await http.close();
    await node.close();
  });
  const { etag: _, ...noEtag } = recordFor(REF, 4);
  const body = JSON.stringify({ record: noEtag, shardIndex: 0 });
  const headers = { ...signRequest(SECRET, 'POST', NODE_PATHS.commit, bodySha256(body), Date.now(), 'n0'), 'content-type': 'application/json' };
  const response = await http.request({ method: 'POST', path: NODE_PATHS.commit, headers, body });
  t.equal(response.statusCode, 400);
  const answer = (await response.body.json()) as { code: string; message: string };
  t.equal(answer.code, 'BadRequest');
  t.match(answer.message, /commit request \/record/);
});

t.test('the client refuses an answer that is not the message it asked for', async (t) => {
  const fake = createServer((_request, response) => {
    response.setHeader('content-type', 'application/json');
    response.end(JSON.stringify({ nodeId: 'n0', status: 'fine' }));
  });
  await new Promise<void>((resolve) => fake.listen(0, '127.0.0.1', resolve));
  const client = new NodeClient({ nodeId: 'n0', address: `127.0.0.1:${(fake.address() as AddressInfo).port}`, clusterSecret: SECRET });
  t.teardown(async () => {
    await client.close();
    await new Promise((resolve) => fake.close(resolve));
  });
  await t.rejects(client.health(), { code: 'Internal', nodeId: 'n0', message: /malformed health report/ });
  await t.rejects(client.workStatus(), { code: 'Internal', message: /malformed work status/ });
});
