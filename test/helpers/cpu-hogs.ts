import { spawn } from 'node:child_process';

/**
 * Starts `count` processes that each keep one core busy: the loaded machine that the soak, the crash test
 * and `npm run test:loaded` run beside. Returns the function that kills them (each by its own PID).
 */
export function startCpuHogs(count: number): () => void {
  const hogs = Array.from({ length: count }, () => spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }));
  return () => {
    for (const hog of hogs) hog.kill('SIGKILL');
  };
}
