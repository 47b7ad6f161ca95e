/**
 * Sizes libuv's thread pool before anything uses it (this module is imported first by the entry point;
 * libuv reads the variable once, when the pool starts). Every LevelDB read and write, every shard
 * file's open, read, write and fsync of a process runs on that pool, and Node's default of four
 * threads is shared by all the storage nodes a process hosts: the embedded default's six nodes each
 * hold a thread for every synced LevelDB write, so reads and shard I/O queued behind fsyncs of other
 * nodes. Idle pool threads cost nothing but their stacks. An operator's own setting wins.
 */
export const THREAD_POOL_SIZE = 16;

process.env['UV_THREADPOOL_SIZE'] ??= String(THREAD_POOL_SIZE);
