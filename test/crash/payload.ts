/**
 * Self-identifying object bodies for the crash test. Every 64-byte line names the write it belongs to
 * and its own offset, and the rest of the line is filler derived from the write id, so a body can be
 * traced to exactly one write and any byte from another write (or from nowhere) is found.
 *
 *   "w=0000002a o=00000000c0 " + filler + "\n"   (the last line is cut at the object's size)
 */
export const LINE_BYTES = 64;

/** The body of write `writeId`, `sizeBytes` long. */
export function payload(writeId: number, sizeBytes: number): Buffer {
  const out = Buffer.allocUnsafe(sizeBytes);
  const line = Buffer.allocUnsafe(LINE_BYTES);
  const fillerStart = 24;
  let state = (Math.imul(writeId + 1, 2654435761) >>> 0) || 1;
  for (let i = fillerStart; i < LINE_BYTES - 1; i += 1) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    line[i] = 0x61 + ((state >>> 0) % 26);
  }
  line[LINE_BYTES - 1] = 0x0a;
  for (let offset = 0; offset < sizeBytes; offset += LINE_BYTES) {
    line.write(`w=${writeId.toString(16).padStart(8, '0')} o=${offset.toString(16).padStart(10, '0')} `, 0, fillerStart, 'latin1');
    line.copy(out, offset, 0, Math.min(LINE_BYTES, sizeBytes - offset));
  }
  return out;
}

/** The write a body claims to come from (its first line), or null when it does not start like a payload. */
export function claimedWriteId(body: Buffer): number | null {
  if (body.length < 11) return null;
  const match = /^w=([0-9a-f]{8})/.exec(body.toString('latin1', 0, 11));
  return match === null ? null : Number.parseInt(match[1] as string, 16);
}

/** Write ids named by the lines of a body, in order of first appearance: more than one means a mix. */
export function writeIdsIn(body: Buffer): number[] {
  const ids: number[] = [];
  for (let offset = 0; offset + 11 <= body.length; offset += LINE_BYTES) {
    const match = /^w=([0-9a-f]{8})/.exec(body.toString('latin1', offset, offset + 11));
    const id = match === null ? -1 : Number.parseInt(match[1] as string, 16);
    if (!ids.includes(id)) ids.push(id);
  }
  return ids;
}
