/**
 * The ids whose deadline has come: an id's level (slots still owed, in rows) falls by at most one
 * per row while the rows left fall by exactly one, so once an id is due (level >= rows left) it
 * stays due. Ids not yet due are counted per level, so a row learns in O(1) whether any became due.
 */
export class Deadlines {
  /** Ids that are due, in the order they became due. */
  readonly due: number[] = [];
  private readonly isDue: Uint8Array;
  private readonly perLevel: Int32Array;
  private readonly levelOf: (id: number) => number;
  private readonly ids: readonly number[];

  /** `ids` below `size`, each level at most `maxLevel` (the rows of the table). */
  constructor(levelOf: (id: number) => number, ids: readonly number[], size: number, maxLevel: number) {
    this.levelOf = levelOf;
    this.ids = ids;
    this.isDue = new Uint8Array(size);
    this.perLevel = new Int32Array(maxLevel + 1);
    for (const id of ids) this.perLevel[levelOf(id)]! += 1;
  }

  /** Records that id's level went from `from` to `to`. */
  moved(id: number, from: number, to: number): void {
    if (this.isDue[id] || from === to) return;
    this.perLevel[from]! -= 1;
    this.perLevel[to]! += 1;
  }

  /** Adds the ids that fall due with `rowsLeft` rows to go (their level is at most rowsLeft). */
  collect(rowsLeft: number): void {
    if (rowsLeft >= this.perLevel.length || this.perLevel[rowsLeft] === 0) return;
    for (const id of this.ids) {
      if (this.isDue[id] || this.levelOf(id) < rowsLeft) continue;
      this.isDue[id] = 1;
      this.perLevel[this.levelOf(id)]! -= 1;
      this.due.push(id);
    }
  }
}
