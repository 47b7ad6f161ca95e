import { spawn } from 'node:child_process';

/**
 * A core-burning loop that ends itself once its parent is gone (its parent pid changes), so a test process
 * killed before its teardown ran leaves no hog slowing every later test on the machine.
 */
const HOG_SOURCE = 'const parent = process.ppid; for (let i = 1; ; i += 1) if (i % 50_000_000 === 0 && process.ppid !== parent) process.exit(0);';

/**
 * Starts `count` processes that each keep one core busy: the loaded machine that the soak, the crash test
 * and `npm run test:loaded` run beside. Returns the function that kills them (each by its own PID).
 */
export function startCpuHogs(count: number): () => void {
  const hogs = Array.from({ length: count }, () => spawn(process.execPath, ['-e', HOG_SOURCE], { stdio: 'ignore' }));
  return () => {
    for (const hog of hogs) hog.kill('SIGKILL');
  };
}
