/**
 * The size of libuv's thread pool for a `tessera` command line; CommonJS, so that tessera.cts can use
 * it before any ES module loads (see there).
 *
 * Every file operation and every LevelDB call of every storage node in a process (worker threads
 * included) runs on this one pool, and most of them hold a pool thread while the disk works: an fsync,
 * a directory sync, a LevelDB write waiting behind another's log sync. With libuv's four threads the
 * six nodes of the embedded default queued their reads and renames behind each other's syncs. Threads
 * waiting on the disk cost no CPU, so the pool grows with the nodes it serves.
 */

/** libuv's default, and what a process hosting no storage node keeps. */
const LIBUV_DEFAULT = 4;
/** libuv's ceiling. */
const LIBUV_MAX = 1024;
/** Pool threads added per storage node a process hosts. */
const THREADS_PER_NODE = 4;
/** `tessera dev`'s node count without --nodes (DEFAULTS.devNodeCount; a test keeps the two equal). */
const DEV_NODE_COUNT = 6;

/** How many storage nodes `tessera <argv>` hosts in this process. */
function hostedNodes(argv: readonly string[]): number {
  const [command, ...flags] = argv;
  if (command === 'node') return 1;
  if (command !== 'dev') return 0;
  for (let i = 0; i < flags.length; i += 1) {
    const flag = flags[i] as string;
    const value = flag === '--nodes' ? flags[i + 1] : flag.startsWith('--nodes=') ? flag.slice('--nodes='.length) : undefined;
    // A malformed count is the program's to refuse; the pool just keeps its default size.
    if (value !== undefined) return Number.isInteger(Number(value)) && Number(value) > 0 ? Number(value) : 0;
  }
  return DEV_NODE_COUNT;
}

/** The pool size for `argv`, or undefined to leave libuv's default (or the operator's setting) alone. */
function threadPoolSize(argv: readonly string[], env: NodeJS.ProcessEnv): number | undefined {
  if (env['UV_THREADPOOL_SIZE'] !== undefined) return undefined;
  const nodes = hostedNodes(argv);
  return nodes === 0 ? undefined : Math.min(LIBUV_MAX, LIBUV_DEFAULT + THREADS_PER_NODE * nodes);
}

module.exports = { DEV_NODE_COUNT, hostedNodes, threadPoolSize };
