import { randomBytes } from 'node:crypto';

/**
 * Hybrid logical clock producing version ids that order writes.
 *
 * A version id is 24 lower-case hex digits: 12 of wall-clock milliseconds, 4 of a logical counter
 * that breaks ties within a millisecond (and keeps ids increasing when the wall clock steps back),
 * and 8 of writer id that breaks ties between writers. Plain string comparison orders ids, so they
 * can sit in LevelDB keys and be compared without parsing (compareVersionIds). Last writer wins = greatest id wins.
 */
export class HybridClock {
  readonly writerId: string;
  private physicalMs = 0;
  private logical = 0;
  private readonly wallClock: () => number;

  constructor(options: { writerId?: string; wallClock?: () => number } = {}) {
    this.writerId = options.writerId ?? randomBytes(4).toString('hex');
    if (!/^[0-9a-f]{8}$/.test(this.writerId)) throw new RangeError('writerId must be 8 lower-case hex digits');
    this.wallClock = options.wallClock ?? Date.now;
  }

  /** A new version id, greater than every id this clock produced or observed before. */
  next(): string {
    const wallMs = this.wallClock();
    if (wallMs > this.physicalMs) {
      this.physicalMs = wallMs;
      this.logical = 0;
    } else {
      this.logical += 1;
      if (this.logical > 0xffff) {
        // The counter is exhausted inside one millisecond: borrow the next millisecond.
        this.physicalMs += 1;
        this.logical = 0;
      }
    }
    return formatVersionId(this.physicalMs, this.logical, this.writerId);
  }

  /** The wall clock this clock reads, in ms since the epoch: the one time source for timestamps beside version ids. */
  nowMs(): number {
    return this.wallClock();
  }

  /** Moves the clock past a version id seen elsewhere, so the next local id orders after it. */
  observe(versionId: string): void {
    const { physicalMs, logical } = parseVersionId(versionId);
    if (physicalMs > this.physicalMs || (physicalMs === this.physicalMs && logical > this.logical)) {
      this.physicalMs = physicalMs;
      this.logical = logical;
    }
  }
}

/** The shape of a version id (24 lower-case hex digits), as a pattern wire schemas can carry. */
export const VERSION_ID_PATTERN = '^[0-9a-f]{24}$';
const VERSION_ID = new RegExp(VERSION_ID_PATTERN);

/** True when `value` has the shape of a version id. */
export function isVersionId(value: string): boolean {
  return VERSION_ID.test(value);
}

/**
 * Orders version ids oldest first, as a sort comparator does: the one comparison of ids in the code.
 * Their fixed width makes string order the clock's order; an empty string (no id yet) is older than any.
 */
export function compareVersionIds(a: string, b: string): number {
  return a === b ? 0 : a < b ? -1 : 1;
}

/** Builds the 24-hex version id from its parts. */
export function formatVersionId(physicalMs: number, logical: number, writerId: string): string {
  return physicalMs.toString(16).padStart(12, '0') + logical.toString(16).padStart(4, '0') + writerId;
}

/** Splits a version id into wall-clock milliseconds, logical counter and writer id. */
export function parseVersionId(versionId: string): { physicalMs: number; logical: number; writerId: string } {
  if (!isVersionId(versionId)) throw new RangeError(`not a version id: ${versionId}`);
  return {
    physicalMs: Number.parseInt(versionId.slice(0, 12), 16),
    logical: Number.parseInt(versionId.slice(12, 16), 16),
    writerId: versionId.slice(16),
  };
}
