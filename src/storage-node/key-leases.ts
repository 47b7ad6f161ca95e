/**
 * Short leases on single keys, held in memory by each node of a key's set: a gateway holds one once a
 * majority of the set granted it (gateway/data-path/key-lease.ts), around a conditional write's last
 * check and commit, so two conditional writes of one key never interleave (of two `If-None-Match: *`
 * creates, the second sees the first's object). A lease expires by itself, so a gateway that dies
 * holding one blocks the key for at most its time to live; a node restart forgets every lease, which
 * the majority rule survives while the holder keeps a majority of the others.
 */
export class KeyLeases {
  private readonly leases = new Map<string, { token: string; expiresMs: number }>();
  private readonly clock: () => number;

  constructor(clock: () => number = Date.now) {
    this.clock = clock;
  }

  /** Takes (or renews, with the same token) the lease on bucket/key; false while another token holds it. */
  acquire(bucket: string, key: string, token: string, ttlMs: number): boolean {
    const name = `${bucket}\0${key}`;
    const now = this.clock();
    const held = this.leases.get(name);
    if (held !== undefined && held.token !== token && held.expiresMs > now) return false;
    this.leases.set(name, { token, expiresMs: now + ttlMs });
    // Expired leases of keys nobody touches again must not pile up.
    if (this.leases.size > 10_000) for (const [other, lease] of this.leases) if (lease.expiresMs <= now) this.leases.delete(other);
    return true;
  }

  /** Gives the lease back if `token` still holds it. */
  release(bucket: string, key: string, token: string): void {
    const name = `${bucket}\0${key}`;
    if (this.leases.get(name)?.token === token) this.leases.delete(name);
  }
}
