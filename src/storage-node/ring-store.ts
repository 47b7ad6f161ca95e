import { open, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { RingLocator, parseRing, serializeRing, type Ring } from '../placement/index.js';

/**
 * The newest ring a node was given, kept in `<data>/ring.json` so a restart resumes with it. The
 * node's background work (audit, repair, rebalance) reads placement from here; an older or equal
 * epoch is ignored, so pushes from several operators or gateways can race safely. The ring is held
 * compiled for lookups, once per ring, so the node's workers share one locator.
 */
export class RingStore {
  private readonly path: string;
  private held: RingLocator | undefined;
  private offers: Promise<unknown> = Promise.resolve();

  constructor(dataDir: string) {
    this.path = join(dataDir, 'ring.json');
  }

  /** Loads the stored ring, if any. */
  async open(): Promise<void> {
    try {
      this.held = new RingLocator(parseRing(await readFile(this.path, 'utf8')));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }

  /** The newest ring, if the node has one. */
  get current(): Ring | undefined {
    return this.held?.ring;
  }

  /** The newest ring compiled for lookups (its `ring` is `current`), if the node has one. */
  get locator(): RingLocator | undefined {
    return this.held;
  }

  /** Stores `ring` if its epoch is newer; returns whether it did. The file is replaced atomically. */
  offer(ring: Ring): Promise<boolean> {
    // One offer at a time: two at once (a peer's push and the node's own fetch) would share the temporary
    // file, and the older epoch could land last.
    const done = this.offers.then(() => this.offerNow(ring));
    this.offers = done.catch(() => undefined);
    return done;
  }

  private async offerNow(ring: Ring): Promise<boolean> {
    if (this.held !== undefined && ring.epoch <= this.held.ring.epoch) return false;
    const locator = new RingLocator(ring);
    const tmp = `${this.path}.tmp`;
    const handle = await open(tmp, 'w');
    try {
      await handle.writeFile(serializeRing(ring));
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, this.path);
    this.held = locator;
    return true;
  }
}
