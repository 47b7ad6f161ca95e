/**
 * Child process of `npm run bench`: s3rver, the reference peer, on `--port` with its file store in `--dir`. Request
 * logging is off (silent) so that it is not charged for console output Tessera does not do either.
 */
import S3rver from 's3rver';
import { childOptions, serveUntilSignalled } from './child-main.js';

const { port, dir } = childOptions();
if (dir === undefined) throw new Error('s3rver-main needs --dir');
const server = new S3rver({ address: '127.0.0.1', port, directory: dir, silent: true, vhostBuckets: false });
await serveUntilSignalled({
  start: async () => {
    const address = await server.run();
    return `http://127.0.0.1:${address.port}`;
  },
  close: () => server.close(),
});
