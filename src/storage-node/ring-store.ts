import { open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { RingLocator, parseRing, serializeRing, type Ring } from '../placement/index.js';
import { gzipRingDocument } from '../rpc/index.js';
import { syncDirectory } from './shard-paths.js';

/**
 * The newest ring a node was given, kept in `<data>/ring.json` so a restart resumes with it, and the
 * ring that one replaced, kept in `<data>/ring-previous.json`. The node's background work (audit,
 * repair, rebalance) reads placement from here; an older or equal epoch is ignored, so pushes from
 * several operators or gateways can race safely. Both rings are held compiled for lookups, once per
 * ring, so the node's workers share one locator of each.
 *
 * The previous ring is what placed the node's data before the change: a gateway that did not see the
 * change (started during a rebalance, or skipping epochs) asks the nodes for it (GET /v1/ring/previous)
 * to find what the rebalance has not moved yet. A ring offered after a gap of epochs still makes the
 * ring held so far the previous one: that is the ring the node's data was placed by.
 *
 * A crash between the two files must never leave a previous ring as new as the current one, and
 * should lose neither: the ring being replaced is first staged (written and synced under a side
 * name), then ring.json is replaced and the directory synced (so a power loss cannot keep the later
 * rename without the earlier), then the staged file is renamed into place. `open` completes a
 * rename a crash interrupted: a staged ring older than the current one and newer than the previous
 * one is the ring the current one replaced.
 */
export class RingStore {
  private readonly dataDir: string;
  private readonly path: string;
  private readonly previousPath: string;
  private readonly stagedPath: string;
  private held: RingLocator | undefined;
  private replaced: RingLocator | undefined;
  private offers: Promise<unknown> = Promise.resolve();
  /** Each ring's document gzipped, made once however many clients read it; rings are frozen, so it never goes stale. */
  private readonly gzipped = new WeakMap<Ring, Promise<Buffer>>();

  constructor(dataDir: string) {
    this.dataDir = dataDir;
    this.path = join(dataDir, 'ring.json');
    this.previousPath = join(dataDir, 'ring-previous.json');
    this.stagedPath = join(dataDir, 'ring-previous.json.staged');
  }

  /** The ring's document gzipped, as GET /v1/ring sends it to a client that accepts gzip. */
  gzippedDocument(ring: Ring): Promise<Buffer> {
    let gzipped = this.gzipped.get(ring);
    if (gzipped === undefined) {
      gzipped = gzipRingDocument(serializeRing(ring));
      this.gzipped.set(ring, gzipped);
      gzipped.catch(() => this.gzipped.delete(ring));
    }
    return gzipped;
  }

  /** Loads the stored rings, if any, and finishes a change a crash interrupted. */
  async open(): Promise<void> {
    const current = parseStored(await readText(this.path));
    // A previous ring means something only beside the ring that replaced it.
    if (current === undefined) return;
    let previous = parseStored(await readText(this.previousPath));
    // Only an edit by hand leaves one as new as the current ring; it cannot be what placed the data.
    if (previous !== undefined && previous.epoch >= current.epoch) previous = undefined;
    // Synced before ring.json was replaced, so complete unless the crash came before that replace;
    // then it holds the current ring itself, or is cut short, and is dropped.
    const staged = parseStaged(await readText(this.stagedPath));
    if (staged !== undefined && staged.epoch < current.epoch && (previous === undefined || staged.epoch > previous.epoch)) {
      await rename(this.stagedPath, this.previousPath);
      previous = staged;
    } else {
      await rm(this.stagedPath, { force: true });
    }
    this.held = new RingLocator(current);
    this.replaced = previous === undefined ? undefined : new RingLocator(previous);
  }

  /** The newest ring, if the node has one. */
  get current(): Ring | undefined {
    return this.held?.ring;
  }

  /** The newest ring compiled for lookups (its `ring` is `current`), if the node has one. */
  get locator(): RingLocator | undefined {
    return this.held;
  }

  /** The ring the newest one replaced on this node, if it had one: older than `current`, not always by one epoch. */
  get previous(): Ring | undefined {
    return this.replaced?.ring;
  }

  /** The previous ring compiled for lookups (its `ring` is `previous`), if the node has one. */
  get previousLocator(): RingLocator | undefined {
    return this.replaced;
  }

  /**
   * Stores `ring` if its epoch is newer, keeping the ring it replaces as the previous one; returns
   * whether it did. Each file is replaced atomically, in the order the class comment gives.
   */
  offer(ring: Ring): Promise<boolean> {
    // One offer at a time: two at once (a peer's push and the node's own fetch) would share the temporary
    // files, and the older epoch could land last.
    const done = this.offers.then(() => this.offerNow(ring));
    this.offers = done.catch(() => undefined);
    return done;
  }

  private async offerNow(ring: Ring): Promise<boolean> {
    const replaced = this.held;
    if (replaced !== undefined && ring.epoch <= replaced.ring.epoch) return false;
    const locator = new RingLocator(ring);
    // The node's first ring replaces none: a previous file left from before (ring.json removed by
    // hand) must not come back beside it at the next start.
    if (replaced === undefined) await this.removePrevious();
    else await writeSynced(this.stagedPath, serializeRing(replaced.ring));
    const tmp = `${this.path}.tmp`;
    await writeSynced(tmp, serializeRing(ring));
    await rename(tmp, this.path);
    // Both in one turn: a reader never sees the new ring beside the previous ring of the old one.
    this.held = locator;
    if (replaced === undefined) return true;
    this.replaced = replaced;
    await syncDirectory(this.dataDir);
    // Should this rename fail, the staged file is still complete and `open` renames it.
    await rename(this.stagedPath, this.previousPath);
    return true;
  }

  private async removePrevious(): Promise<void> {
    try {
      await rm(this.previousPath);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    await syncDirectory(this.dataDir);
  }
}

/** The text of the file at `path`, or undefined when there is no such file. */
async function readText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** A ring file's ring; a damaged one throws, as it was written whole and renamed into place. */
function parseStored(text: string | undefined): Ring | undefined {
  return text === undefined ? undefined : parseRing(text);
}

/** A staged ring, or undefined when a crash cut its writing short. */
function parseStaged(text: string | undefined): Ring | undefined {
  try {
    return parseStored(text);
  } catch {
    return undefined;
  }
}

/** Writes `text` to `path` and syncs it to disk before returning. */
async function writeSynced(path: string, text: string): Promise<void> {
  const handle = await open(path, 'w');
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
}
