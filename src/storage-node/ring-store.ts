import { open, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { parseRing, serializeRing, type Ring } from '../placement/index.js';

/**
 * The newest ring a node was given, kept in `<data>/ring.json` so a restart resumes with it. The
 * node's background work (audit, repair, rebalance) reads placement from here; an older or equal
 * epoch is ignored, so pushes from several operators or gateways can race safely.
 */
export class RingStore {
  private readonly path: string;
  private ring: Ring | undefined;

  constructor(dataDir: string) {
    this.path = join(dataDir, 'ring.json');
  }

  /** Loads the stored ring, if any. */
  async open(): Promise<void> {
    try {
      this.ring = parseRing(await readFile(this.path, 'utf8'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }

  /** The newest ring, if the node has one. */
  get current(): Ring | undefined {
    return this.ring;
  }

  /** Stores `ring` if its epoch is newer; returns whether it did. The file is replaced atomically. */
  async offer(ring: Ring): Promise<boolean> {
    if (this.ring !== undefined && ring.epoch <= this.ring.epoch) return false;
    const tmp = `${this.path}.tmp`;
    const handle = await open(tmp, 'w');
    try {
      await handle.writeFile(serializeRing(ring));
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, this.path);
    this.ring = ring;
    return true;
  }
}
