import { setTimeout as delay } from 'node:timers/promises';

/**
 * Polls `check` until it holds (a check that throws counts as not yet); throws naming `what` after
 * `timeoutMs`. Returns the time it took. Tests wait for their condition with this, never a fixed sleep.
 */
export async function until(what: string, check: () => Promise<boolean>, timeoutMs: number, pollMs = 100): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (await check().catch(() => false)) return Date.now() - started;
    if (Date.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await delay(pollMs);
  }
}
