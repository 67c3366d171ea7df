// Remembers token ids (jti) until their token expires, so that a captured token cannot be replayed.
// Bounded: when full, expired entries go first, then the ones closest to expiry.

/** What the authenticator needs of a replay memory: this cache, or the shared one (src/service/shared-state.ts). */
export interface ReplayStore {
  /** Records the id; false when it was already seen and has not expired. `expiresAt` is ms since epoch. */
  checkAndRemember(key: string, expiresAt: number): boolean;
}

export class ReplayCache implements ReplayStore {
  private readonly expiries = new Map<string, number>();
  private nextSweep = 0;

  constructor(
    private readonly maxEntries: number,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    return this.expiries.size;
  }

  /** Records the id; false when it was already seen and has not expired. `expiresAt` is ms since epoch. */
  checkAndRemember(key: string, expiresAt: number): boolean {
    const now = this.now();
    const seen = this.expiries.get(key);
    if (seen !== undefined && seen > now) return false;
    if (this.expiries.size >= this.maxEntries || now >= this.nextSweep) this.sweep(now);
    if (this.expiries.size >= this.maxEntries) this.evictSoonest(Math.max(1, Math.floor(this.maxEntries / 100)));
    this.expiries.set(key, expiresAt);
    return true;
  }

  private sweep(now: number): void {
    for (const [key, expiry] of this.expiries) if (expiry <= now) this.expiries.delete(key);
    this.nextSweep = now + 10_000;
  }

  private evictSoonest(count: number): void {
    const soonest = [...this.expiries.entries()].sort((a, b) => a[1] - b[1]).slice(0, count);
    for (const [key] of soonest) this.expiries.delete(key);
  }
}
