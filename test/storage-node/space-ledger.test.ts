import { t } from 'tap';
import { SpaceLedger, type SpaceClaim } from '../../src/storage-node/space-ledger.js';

const MiB = 1024 * 1024;

/** A disk whose free bytes the test sets, counting how often it is read; the clock is the test's too. */
class FakeDisk {
  freeBytes: number;
  reads = 0;
  nowMs = 0;
  private gate: { opened: Promise<void>; open: () => void } | null = null;

  constructor(freeBytes: number) {
    this.freeBytes = freeBytes;
  }

  readonly readFreeBytes = async (): Promise<number> => {
    this.reads += 1;
    const value = this.freeBytes;
    if (this.gate !== null) await this.gate.opened;
    return value;
  };

  readonly clock = (): number => this.nowMs;

  /** Holds the next readings until the returned function is called. */
  hold(): () => void {
    let open = (): void => undefined;
    const opened = new Promise<void>((resolve) => (open = resolve));
    this.gate = { opened, open };
    return () => {
      this.gate = null;
      open();
    };
  }
}

function ledgerOn(disk: FakeDisk, reserveBytes: number, refresh: { ms?: number; bytes?: number } = {}): SpaceLedger {
  return new SpaceLedger(null, {
    reserveBytes,
    readFreeBytes: disk.readFreeBytes,
    clock: disk.clock,
    refreshEveryMs: refresh.ms ?? 1000,
    refreshEveryBytes: refresh.bytes ?? 100 * MiB,
  });
}

async function write(ledger: SpaceLedger, bytes: number, kept = true): Promise<SpaceClaim> {
  const claim = await ledger.claim();
  claim.take(bytes);
  claim.settle(kept);
  return claim;
}

t.test('one disk reading serves many writes; the estimate counts what they took since', async (t) => {
  const disk = new FakeDisk(10 * MiB);
  const ledger = ledgerOn(disk, 2 * MiB);
  for (let i = 0; i < 100; i += 1) await write(ledger, 64 * 1024);
  t.equal(disk.reads, 1, '100 writes, one statfs');
  // 6.25 MiB taken of 8 MiB above the reserve: 1.75 MiB left.
  const claim = await ledger.claim();
  t.throws(() => claim.take(2 * MiB), { code: 'NoSpace' }, 'a write that would eat into the reserve is refused mid-stream');
  claim.take(MiB);
  claim.settle(true);
  await write(ledger, 768 * 1024);
  await t.rejects(ledger.claim(), { code: 'NoSpace' }, 'and with less than nothing left, a new write is refused before it starts');
  t.equal(disk.reads, 1, 'still without reading the disk again: nothing was freed and the reading is fresh');
});

t.test('writes in flight at a reading count against it, and concurrent writes share one budget', async (t) => {
  const disk = new FakeDisk(4 * MiB);
  const ledger = ledgerOn(disk, MiB);
  const a = await ledger.claim();
  const b = await ledger.claim();
  a.take(2 * MiB);
  t.throws(() => b.take(2 * MiB), { code: 'NoSpace' }, 'the second write sees the first one\'s bytes');
  b.take(MiB);
  a.settle(true);
  b.settle(true);
  t.equal(ledger.inFlightBytes, 0);
});

t.test('a reading is refreshed when it is old or many bytes were written, in the background while there is room', async (t) => {
  const disk = new FakeDisk(100 * MiB);
  const ledger = ledgerOn(disk, MiB, { ms: 1000, bytes: 10 * MiB });
  await write(ledger, MiB);
  t.equal(disk.reads, 1);
  disk.nowMs = 999;
  await write(ledger, MiB);
  t.equal(disk.reads, 1, 'not before the interval');
  disk.nowMs = 1000;
  const release = disk.hold();
  await write(ledger, MiB);
  t.equal(disk.reads, 2, 'an old reading is refreshed');
  await write(ledger, MiB);
  t.equal(disk.reads, 2, 'writes meanwhile neither wait for it nor start another');
  release();
  for (let i = 0; i < 8; i += 1) await write(ledger, MiB);
  t.equal(disk.reads, 2, 'the reading was asked for before 2 of these 10 MiB');
  await write(ledger, MiB);
  t.equal(disk.reads, 3, 'after 10 MiB written since, the next one');
});

t.test('a disk filled by someone else is seen at the next reading; a full estimate rereads once space may be back', async (t) => {
  const disk = new FakeDisk(100 * MiB);
  const ledger = ledgerOn(disk, MiB);
  await write(ledger, MiB);
  disk.freeBytes = MiB / 2;
  await write(ledger, MiB);
  t.equal(disk.reads, 1, 'within the interval, the reading holds');
  disk.nowMs = 1000;
  const answer = disk.hold();
  await write(ledger, MiB);
  t.equal(disk.reads, 2, 'a stale reading that still has room lets a write go while the disk is read again');
  answer();
  // The fake disk answers at once: one turn of the event loop lets the new reading land.
  await new Promise((resolve) => setImmediate(resolve));
  await t.rejects(ledger.claim(), { code: 'NoSpace' }, 'the new reading stops the next write');
  for (let i = 0; i < 20; i += 1) await t.rejects(ledger.claim(), { code: 'NoSpace' });
  t.equal(disk.reads, 2, 'refusing takes no statfs while the reading is fresh and nothing was freed');
  disk.freeBytes = 50 * MiB;
  ledger.release(MiB);
  await write(ledger, MiB);
  t.equal(disk.reads, 3, 'a dropped shard makes the full estimate read the disk again, and there is room');
  disk.freeBytes = 0;
  disk.nowMs = 5000;
  const claim = await ledger.claim();
  claim.settle(false);
  await new Promise((resolve) => setImmediate(resolve));
  await t.rejects(ledger.claim(), { code: 'NoSpace' });
  disk.freeBytes = 50 * MiB;
  disk.nowMs = 7000;
  await write(ledger, MiB);
  t.pass('a full estimate whose reading is stale reads the disk again before refusing');
});

t.test('without a reserve the disk is never read', async (t) => {
  const disk = new FakeDisk(0);
  const ledger = ledgerOn(disk, 0);
  await write(ledger, 10 * MiB);
  t.equal(disk.reads, 0);
});
