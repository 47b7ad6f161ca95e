/**
 * The `tessera` command's entry point. It is CommonJS on purpose: libuv reads UV_THREADPOOL_SIZE once,
 * when its thread pool starts, and Node's ES module loader reads files through that pool, so by the
 * time any ES module runs the pool's size is settled. This file sizes the pool for the storage nodes
 * the command hosts (thread-pool.cts), then loads the program (tessera.ts). Running dist/bin/tessera.js
 * directly works too, with libuv's default pool.
 */
const { threadPoolSize } = require('./thread-pool.cjs') as { threadPoolSize: (argv: readonly string[], env: NodeJS.ProcessEnv) => number | undefined };

const size = threadPoolSize(process.argv.slice(2), process.env);
if (size !== undefined) process.env['UV_THREADPOOL_SIZE'] = String(size);
void import('./tessera.js');
