/** Child process of `npm run bench`: the Fastify null server, on `--port` (see child-main.ts). */
import { childOptions, serveUntilSignalled } from './child-main.js';
import { NullServer } from './null-server.js';

const { port } = childOptions();
const server = new NullServer();
await serveUntilSignalled({ start: () => server.start(port), close: () => server.close() });
